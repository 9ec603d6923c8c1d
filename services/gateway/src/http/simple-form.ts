import { isMediaType } from '@fileshare/shared';
import { cleanFileName } from './disposition.js';
import type { MultipartLimits } from './multipart.js';

/**
 * Bodies up to this size, of declared length, are read whole before they are parsed (a chat
 * attachment, a form of a few KiB): a form that `parseSimpleForm` reads needs no stream at all.
 */
export const SIMPLE_FORM_MAX = 64 * 1024;

/** A form read whole: the file part's bytes (a view of the body) and what busboy would have said of it. */
export interface SimpleForm {
  file: Buffer;
  name: string;
  contentType: string;
  fields: Record<string, string[]>;
}

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
/** `; name=value`, the value a token or a quoted string without escapes (printable ASCII). */
const PARAM = new RegExp(`^[ \\t]*;[ \\t]*(${TOKEN})=(?:(${TOKEN})|"([ !#-\\[\\]-~]*)")`);
const MEDIA = new RegExp(`^(${TOKEN})/(${TOKEN})$`);
/** A part's header line: a name, optional spaces, a value of printable ASCII that ends in a visible character. */
const HEADER = /^([A-Za-z-]+):[ \t]*([!-~](?:[ -~]*[!-~])?)$/;
const CRLF = Buffer.from('\r\n');
const HEADERS_END = Buffer.from('\r\n\r\n');

/**
 * Reads a multipart/form-data body held whole, when it is the plain form every client sends: one
 * part named `file` with a filename, text fields, nothing else. The grammar accepted is a strict
 * subset of what busboy (the streaming parser, multipart.ts) reads, and what it yields for such a
 * form is what busboy yields: the file part's type (`type/subtype` lowercased, `text/plain` when
 * the part names none, as busboy has it), the raw filename cleaned as the stream path cleans it,
 * fields as text. Anything else — a preamble, a quoted escape, a `filename*`, another header, a
 * non-ASCII byte in a header or field, a limit reached, no file, two files, a field called `file`,
 * a malformed part — returns null: the caller hands the body to busboy, whose answer (the form,
 * or the API error) is the rule. Never throws.
 */
export function parseSimpleForm(body: Buffer, contentType: string, limits: MultipartLimits): SimpleForm | null {
  const boundary = boundaryOf(contentType);
  if (!boundary) return null;
  const delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
  // The body starts with the first boundary line (no preamble).
  if (!startsWith(body, delimiter.subarray(2), 0) || !startsWith(body, CRLF, delimiter.length - 2)) return null;
  let at = delimiter.length;
  let file: Omit<SimpleForm, 'fields'> | null = null;
  const fields: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  let fieldCount = 0;
  for (;;) {
    const headersEnd = body.indexOf(HEADERS_END, at);
    if (headersEnd < 0) return null;
    const part = partHeaders(body.toString('latin1', at, headersEnd));
    if (!part) return null;
    const start = headersEnd + HEADERS_END.length;
    // busboy looks for the next delimiter from the end of the last one, through the part's headers:
    // one that begins before the data (inside the headers, or on their closing line break) is not plain.
    const end = body.indexOf(delimiter, at - CRLF.length);
    if (end < start) return null;
    const data = body.subarray(start, end);
    if (part.filename !== undefined) {
      // The one file: `file`, only once (busboy: `files: 1`; any other file part would take that place).
      if (part.name !== 'file' || file) return null;
      const type = part.type ?? 'text/plain';
      file = { file: data, name: cleanFileName(part.filename, limits.maxNameLength), contentType: isMediaType(type) ? type : 'application/octet-stream' };
    } else {
      // A text field: no type of its own, ASCII, within the limits (anything else is busboy's to judge).
      if (part.type !== undefined || part.name === 'file' || ++fieldCount > limits.maxFields) return null;
      if (data.length > limits.maxFieldSize || !isAscii(data)) return null;
      (fields[part.name] ??= []).push(data.toString('latin1'));
    }
    at = end + delimiter.length;
    if (startsWith(body, CRLF, at)) {
      at += CRLF.length;
      continue;
    }
    // The closing delimiter, then nothing or a line break.
    if (body[at] !== 0x2d || body[at + 1] !== 0x2d) return null;
    const rest = body.length - (at + 2);
    if (rest !== 0 && !(rest === 2 && startsWith(body, CRLF, at + 2))) return null;
    return file && { ...file, fields };
  }
}

/** The boundary of `multipart/form-data; boundary=...` (its only parameter), or null. */
function boundaryOf(contentType: string): string | null {
  const m = /^multipart\/form-data/i.exec(contentType);
  if (!m) return null;
  const params = parameters(contentType.slice(m[0].length));
  const boundary = params?.get('boundary');
  return params && params.size === 1 && boundary && boundary.length <= 70 ? boundary : null;
}

/** `; a=b; c="d"` as a map (names lowercased); null when anything else is there or a name repeats. */
function parameters(s: string): Map<string, string> | null {
  const out = new Map<string, string>();
  while (s.length > 0) {
    const m = PARAM.exec(s);
    if (!m) return /^[ \t]*$/.test(s) ? out : null;
    const name = m[1].toLowerCase();
    if (out.has(name)) return null;
    out.set(name, m[2] ?? m[3]);
    s = s.slice(m[0].length);
  }
  return out;
}

/** A part's Content-Disposition (form-data, `name`, maybe `filename`) and Content-Type; null for anything else. */
function partHeaders(block: string): { name: string; filename?: string; type?: string } | null {
  let disposition: Map<string, string> | null = null;
  let type: string | undefined;
  for (const line of block.split('\r\n')) {
    const h = HEADER.exec(line);
    if (!h) return null;
    const header = h[1].toLowerCase();
    if (header === 'content-disposition' && !disposition) {
      const d = /^form-data/i.exec(h[2]);
      disposition = d && parameters(h[2].slice(d[0].length));
      if (!disposition) return null;
    } else if (header === 'content-type' && type === undefined) {
      const t = MEDIA.exec(h[2]);
      if (!t) return null;
      type = `${t[1]}/${t[2]}`.toLowerCase();
    } else return null;
  }
  const name = disposition?.get('name');
  // An empty name is none to busboy: not plain either.
  if (!disposition || !name || name.length > 200) return null;
  for (const k of disposition.keys()) if (k !== 'name' && k !== 'filename') return null;
  const filename = disposition.get('filename');
  // An empty filename is none to busboy (the part is a field then): not plain.
  if (filename === '') return null;
  return { name, filename, type };
}

function startsWith(body: Buffer, prefix: Buffer, at: number): boolean {
  return body.length - at >= prefix.length && body.compare(prefix, 0, prefix.length, at, at + prefix.length) === 0;
}

function isAscii(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] > 0x7e || (b[i] < 0x20 && b[i] !== 0x09 && b[i] !== 0x0a && b[i] !== 0x0d)) return false;
  return true;
}
