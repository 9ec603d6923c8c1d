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
/** The same in a part's Content-Disposition, where a quoted value may also hold bytes of UTF-8 (browsers send names so). */
const DISPOSITION_PARAM = new RegExp(`^[ \\t]*;[ \\t]*(${TOKEN})=(?:(${TOKEN})|"([ !#-\\[\\]-~\\x80-\\xff]*)")`);
const MEDIA = new RegExp(`^(${TOKEN})/(${TOKEN})$`);
/**
 * A part's header line (read as latin1): a name, optional spaces, a value of printable ASCII or
 * bytes above 0x7f that ends in a visible one.
 */
const HEADER = /^([A-Za-z-]+):[ \t]*([!-~\x80-\xff](?:[ -~\x80-\xff]*[!-~\x80-\xff])?)$/;
const CRLF = Buffer.from('\r\n');
const HEADERS_END = Buffer.from('\r\n\r\n');
/** Bytes a plain part's header block may take. */
const HEADERS_MAX = 8 * 1024;

/**
 * Reads a multipart/form-data body held whole, when it is the plain form every client sends: one
 * part named `file` with a filename, text fields, nothing else. The grammar accepted is a strict
 * subset of what busboy (the streaming parser, multipart.ts) reads, and what it yields for such a
 * form is what busboy yields: the file part's type (`type/subtype` lowercased, `text/plain` when
 * the part names none, as busboy has it), the raw filename cleaned as the stream path cleans it,
 * fields and quoted names as UTF-8 (as browsers send a file's name). Anything else — a preamble, a
 * quoted escape, a `filename*`, another header, a byte above 0x7f outside a quoted name, a header
 * block over 8 KiB, a limit reached, no file, two files, a field called `file`, a malformed part —
 * returns null: the caller hands the body to busboy, whose answer (the form, or the API error) is
 * the rule. Never throws.
 */
export function parseSimpleForm(body: Buffer, contentType: string, limits: MultipartLimits): SimpleForm | null {
  const delimiter = plainDelimiter(contentType);
  const head = delimiter && readFormHead(body, delimiter, limits);
  if (!head || head === 'more') return null;
  const end = body.indexOf(delimiter, head.dataStart);
  if (end < 0) return null;
  // Fields may follow the file; then the closing delimiter, and nothing or a line break.
  if (readParts(body, end + delimiter.length, delimiter, limits, head) !== 'close') return null;
  return { file: body.subarray(head.dataStart, end), name: head.name, contentType: head.contentType, fields: head.fields };
}

/** What a plain form holds before its file part's data: the text fields, the file part's headers, where its data begins. */
export interface FormHead {
  fields: Record<string, string[]>;
  fieldCount: number;
  /** The file part's filename, cleaned as the stream path cleans it. */
  name: string;
  /** The file part's type, as busboy has it (`text/plain` when it names none). */
  contentType: string;
  dataStart: number;
}

/**
 * The delimiter (`\r\n--boundary`) of a `multipart/form-data` Content-Type whose only parameter is
 * its boundary; null for anything else (busboy's to judge).
 */
export function plainDelimiter(contentType: string): Buffer | null {
  const boundary = boundaryOf(contentType);
  return boundary ? Buffer.from(`\r\n--${boundary}`, 'latin1') : null;
}

/**
 * Reads the start of a body, `buf`, up to its file part's data, when the form is plain so far:
 * no preamble, text fields, then the part named `file` with a filename (see `parseSimpleForm`).
 * Returns the head; null when the form is not plain (or has no file part); 'more' when `buf`
 * ends before that can be told. The head is only returned once `buf` holds enough past the data's
 * start to know that no delimiter begins before it (busboy searches through a part's headers).
 */
export function readFormHead(buf: Buffer, delimiter: Buffer, limits: MultipartLimits): FormHead | 'more' | null {
  const first = delimiter.length - CRLF.length;
  if (buf.length < first) return 'more';
  // The body starts with the first boundary line (no preamble).
  if (!startsWith(buf, delimiter.subarray(CRLF.length), 0)) return null;
  const head: FormHead = { fields: Object.create(null) as Record<string, string[]>, fieldCount: 0, name: '', contentType: '', dataStart: -1 };
  const r = readParts(buf, first, delimiter, limits, head);
  return r === 'file' ? head : r === 'close' ? null : r;
}

/**
 * Reads parts from `at` (just past a delimiter): text fields into `head`, until a file part's
 * data begins ('file': its name, type and data's start set in `head`), the closing delimiter
 * ending `buf` ('close'), the end of `buf` before either ('more'), or anything that is not plain
 * (null).
 */
function readParts(buf: Buffer, at: number, delimiter: Buffer, limits: MultipartLimits, head: FormHead): 'file' | 'close' | 'more' | null {
  for (;;) {
    if (buf.length < at + 2) return 'more';
    if (buf[at] === 0x2d && buf[at + 1] === 0x2d) {
      // The closing delimiter, then nothing or a line break, to the end of `buf`.
      const rest = buf.length - (at + 2);
      return rest === 0 || (rest === 2 && startsWith(buf, CRLF, at + 2)) ? 'close' : null;
    }
    if (!startsWith(buf, CRLF, at)) return null;
    const headersEnd = buf.indexOf(HEADERS_END, at + CRLF.length);
    // A long header block is not plain (busboy refuses one of 16 KiB).
    if ((headersEnd < 0 ? buf.length : headersEnd) - at > HEADERS_MAX) return null;
    if (headersEnd < 0) return 'more';
    const part = partHeaders(buf.toString('latin1', at + CRLF.length, headersEnd));
    if (!part) return null;
    const start = headersEnd + HEADERS_END.length;
    // busboy looks for the next delimiter from the end of the last one, through the part's headers:
    // one that begins before the data (inside the headers, or on their closing line break) is not plain.
    const end = buf.indexOf(delimiter, at);
    if (end >= 0 && end < start) return null;
    if (part.filename !== undefined) {
      // The one file: `file`, only once (busboy: `files: 1`; any other file part would take that place).
      if (part.name !== 'file' || head.dataStart >= 0) return null;
      // A delimiter that begins before the data but ends past `buf` is not seen yet.
      if (end < 0 && buf.length < start - 1 + delimiter.length) return 'more';
      const type = part.type ?? 'text/plain';
      head.name = cleanFileName(part.filename, limits.maxNameLength);
      head.contentType = isMediaType(type) ? type : 'application/octet-stream';
      head.dataStart = start;
      return 'file';
    }
    if (end < 0) return 'more';
    // A text field: no type of its own, within the limits (anything else is busboy's to judge), read
    // as UTF-8 as busboy reads it.
    if (part.type !== undefined || part.name === 'file' || ++head.fieldCount > limits.maxFields) return null;
    if (end - start > limits.maxFieldSize) return null;
    (head.fields[part.name] ??= []).push(buf.toString('utf8', start, end));
    at = end + delimiter.length;
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
function parameters(s: string, param = PARAM): Map<string, string> | null {
  const out = new Map<string, string>();
  while (s.length > 0) {
    const m = param.exec(s);
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
      disposition = d && parameters(h[2].slice(d[0].length), DISPOSITION_PARAM);
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
  return { name: utf8(name), filename: filename === undefined ? undefined : utf8(filename), type };
}

function startsWith(body: Buffer, prefix: Buffer, at: number): boolean {
  return body.length - at >= prefix.length && body.compare(prefix, 0, prefix.length, at, at + prefix.length) === 0;
}

/** A parameter's bytes (read as latin1) as busboy decodes them: UTF-8 (a malformed sequence becomes U+FFFD). */
function utf8(latin1: string): string {
  return /[\x80-\xff]/.test(latin1) ? Buffer.from(latin1, 'latin1').toString('utf8') : latin1;
}
