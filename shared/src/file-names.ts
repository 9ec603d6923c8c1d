/**
 * Characters a file name never keeps, on the server (stored names) and in the CLI (names it saves
 * under): C0 controls, DEL, C1 controls, and the bidirectional-text controls, which reorder what a
 * person sees (`‮gpj.exe` shows as `exe.jpg`).
 */
// eslint-disable-next-line no-control-regex -- control characters are what this matches
export const UNSAFE_NAME_CHARS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
