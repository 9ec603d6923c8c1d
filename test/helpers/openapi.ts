import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { Res } from './http.js';

export const OPENAPI_PATH = fileURLToPath(new URL('../../docs/openapi.json', import.meta.url));
export const openapi = JSON.parse(readFileSync(OPENAPI_PATH, 'utf8'));

const ajv = new Ajv2020({ strict: false, allErrors: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);
ajv.addSchema({ $id: 'openapi', components: openapi.components }, 'openapi');

const routes = Object.entries(openapi.paths as Record<string, any>).map(([template, item]) => ({
  template,
  item,
  re: new RegExp('^' + template.replace(/\{[^}]+\}/g, '[^/]+') + '$'),
}));
const fixRefs = (schema: unknown): unknown => JSON.parse(JSON.stringify(schema).replace(/"#\/components\//g, '"openapi#/components/'));
const cache = new Map<string, ReturnType<typeof ajv.compile>>();
const validator = (key: string, schema: unknown) => {
  let v = cache.get(key);
  if (!v) cache.set(key, (v = ajv.compile(fixRefs(schema) as object)));
  return v;
};

/** How many responses were checked (a suite asserts it checked some). */
export let checked = 0;

/**
 * Check one response against the document: the status is documented for the operation, a
 * JSON body matches its schema, documented required headers are present, HEAD has no body.
 * Returns the problems ([] when it conforms); routes the document does not describe are skipped.
 */
export function conformance(method: string, url: string, res: Res, basePath = '/rtc/fileshare'): string[] {
  const u = new URL(url);
  const path = u.pathname.startsWith(basePath + '/') ? u.pathname.slice(basePath.length) : u.pathname;
  const route = routes.find((r) => r.re.test(path));
  const op = route?.item[method.toLowerCase()];
  if (!route || !op) return [];
  checked++;
  const where = `${method} ${route.template} -> ${res.status}`;
  const spec = op.responses[String(res.status)] ?? op.responses.default;
  if (!spec) return [`${where}: status not documented`];
  const problems: string[] = [];
  for (const [name, h] of Object.entries((spec.headers ?? {}) as Record<string, { required?: boolean; schema?: object }>)) {
    const value = res.headers[name.toLowerCase()];
    if (h.required && value === undefined) problems.push(`${where}: header ${name} missing`);
    if (value !== undefined && h.schema && !validator(`${where}:${name}`, h.schema)(value)) problems.push(`${where}: header ${name}=${value} does not match`);
  }
  if (method === 'HEAD') {
    if (res.body.length) problems.push(`${where}: HEAD with a body`);
    return problems;
  }
  const json = spec.content?.['application/json'];
  if (json) {
    if (!/^application\/json/.test(res.headers['content-type'] ?? '')) problems.push(`${where}: content-type ${res.headers['content-type']}, documented application/json`);
    const v = validator(where, json.schema);
    if (!v(res.json)) problems.push(`${where}: body ${res.text.slice(0, 200)} ${ajv.errorsText(v.errors)}`);
  }
  return problems;
}
