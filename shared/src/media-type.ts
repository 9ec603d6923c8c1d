/**
 * RFC 9110 §8.3.1 media types: `type "/" subtype *( OWS ";" OWS parameter )`, where type,
 * subtype and parameter names are tokens and a parameter value is a token or a quoted-string.
 * Anything else (control bytes, a missing subtype, a stray quote, non-ASCII) is refused on input:
 * what is stored is later sent verbatim as a download's Content-Type header.
 */
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const QUOTED = '"(?:[\\t !#-\\[\\]-~]|\\\\[\\t -~])*"';
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(?:[ \\t]*;[ \\t]*${TOKEN}=(?:${TOKEN}|${QUOTED}))*$`);

export const isMediaType = (s: string): boolean => MEDIA_TYPE.test(s);

/** A Content-Type header's `type/subtype`, lowercase, without parameters ('' when absent). */
export const mediaTypeOf = (header: string | undefined): string => (header ?? '').split(';')[0].trim().toLowerCase();
