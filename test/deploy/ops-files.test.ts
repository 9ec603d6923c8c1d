import { readFileSync } from 'node:fs';
import test from 'ava';
import { SCHEMA, envName, registry } from '@fileshare/shared';

const read = (p: string) => readFileSync(new URL(`../../${p}`, import.meta.url), 'utf8');

test('the Grafana dashboard only queries metrics the services export', async (t) => {
  const dash = JSON.parse(read('deploy/grafana/fileshare-dashboard.json'));
  const exported = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
  const used = new Set<string>();
  for (const p of dash.panels) for (const target of p.targets) for (const m of target.expr.matchAll(/\b(fileshare_[a-z0-9_]+)/g)) used.add(m[1].replace(/_(bucket|sum|count)$/, ''));
  t.true(used.size >= 10);
  for (const name of used) t.true(exported.has(name), `${name} is exported`);
  t.true(dash.panels.every((p: { title: string }) => p.title));
});

test('the nginx reverse-proxy sample streams, forwards and matches the default base path', (t) => {
  const conf = read('deploy/nginx/fileshare.conf');
  for (const d of [/proxy_request_buffering off;/, /proxy_buffering off;/, /client_max_body_size 0;/, /proxy_read_timeout \d+s;/, /X-Forwarded-For/, /X-Forwarded-Proto/]) t.regex(conf, d);
  t.true(conf.includes(`location ${SCHEMA['http.basePath'].default}/`));
  for (const v of conf.matchAll(/(FILESHARE_[A-Z_]+)=/g)) t.true(Object.keys(SCHEMA).some((k) => envName(k) === v[1]), v[1]);
});
