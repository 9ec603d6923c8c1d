import test from 'ava';
import { Validator } from '@seriousme/openapi-schema-validator';
import { OPENAPI_PATH, openapi } from '../helpers/openapi.js';
import { ERRORS } from '@fileshare/shared';

test('docs/openapi.json is a valid OpenAPI 3.1 document', async (t) => {
  const v = new Validator();
  const res = await v.validate(OPENAPI_PATH);
  t.deepEqual(res.errors ?? [], []);
  t.true(res.valid);
  t.is(v.version, '3.1');
});

test('every operation documents its success and error responses', (t) => {
  for (const [path, item] of Object.entries(openapi.paths as Record<string, Record<string, any>>)) {
    for (const [method, op] of Object.entries(item)) {
      if (method === 'parameters' || method === 'servers') continue;
      const codes = Object.keys(op.responses);
      t.true(
        codes.some((c) => c.startsWith('2')),
        `${method} ${path} has a success response`,
      );
      if (op.security?.length !== 0 && !path.startsWith('/healthz') && !['/readyz', '/metrics', '/openapi.json'].includes(path))
        t.true(codes.includes('401'), `${method} ${path} documents 401`);
    }
  }
  // Every error message the code can send appears in the document's error schema domain: lowercase.
  for (const e of Object.values(ERRORS)) t.regex(e.message, new RegExp(openapi.components.schemas.Error.properties.message.pattern));
});
