import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { parseAllDocuments, parse } from 'yaml';
import { SCHEMA, envName } from '@fileshare/shared';

/**
 * No Docker engine or cluster runs here, so the deployment files are parsed and checked
 * against the code: services exist, every FILESHARE_* variable is one the config reads,
 * probe paths and ports are what the services serve, image names agree.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (p: string) => readFileSync(join(root, p), 'utf8');
const KNOWN_ENV = new Set([...Object.keys(SCHEMA).map(envName), 'FILESHARE_CONFIG']);
const SERVICES = ['gateway', 'storage', 'tokens', 'expiry'];
/** The port each service serves /healthz and /readyz on, from the config defaults. */
const PORT: Record<string, number> = {
  gateway: SCHEMA['http.port'].default,
  storage: SCHEMA['storage.port'].default,
  tokens: SCHEMA['tokens.port'].default,
  expiry: SCHEMA['expiry.port'].default,
};
const pkg = JSON.parse(read('package.json'));

test('docker-compose.yml: engines, two of every service, healthchecks on the real ports, known variables', (t) => {
  const c = parse(read('docker-compose.yml'), { merge: true });
  const svcs = c.services as Record<string, any>;
  t.deepEqual(svcs.nats.command.slice(0, 1), ['-js'], 'NATS with JetStream');
  t.truthy(svcs.redis);
  // The README promises Redis with an AOF fsynced on every write.
  const redisArgs = (svcs.redis.command as string[]).join(' ');
  t.regex(redisArgs, /--appendonly yes/);
  t.regex(redisArgs, /--appendfsync always/);
  t.truthy(svcs.minio);
  t.truthy(svcs.lb);
  const byService: Record<string, number> = {};
  for (const [name, s] of Object.entries(svcs)) {
    t.truthy(s.restart, `${name} has a restart policy`);
    t.truthy(s.healthcheck, `${name} has a healthcheck`);
    if (!s.command || s.command[0] !== 'start') continue;
    const which = s.command[1];
    t.true(SERVICES.includes(which), `${name} runs a known service`);
    byService[which] = (byService[which] ?? 0) + (s.deploy?.replicas ?? 1);
    t.is(s.image, 'fileshare:latest');
    for (const k of Object.keys(s.environment ?? {})) if (k.startsWith('FILESHARE_')) t.true(KNOWN_ENV.has(k), `${name}: ${k} is read by the config`);
    const probe = s.healthcheck.test.join(' ');
    t.regex(probe, new RegExp(`127\\.0\\.0\\.1:${PORT[which]}/readyz`), `${name} probes its own readyz`);
    if (which === 'gateway') t.regex(probe, /^CMD node \/app\/deploy\/healthcheck\.mjs https:/, 'the gateway serves TLS by default');
  }
  for (const s of SERVICES) t.true((byService[s] ?? 0) >= 2, `two ${s} replicas`);
  const urls = String(svcs['storage-1'].environment.FILESHARE_STORAGE_URLS).split(',');
  for (const u of urls) t.truthy(svcs[new URL(u).hostname], `${u} names a compose service`);
  for (const v of ['nats-data', 'redis-data', 'minio-data', 'gateway-data']) t.true(v in c.volumes, `volume ${v}`);
  const lb = read('deploy/compose/nginx-lb.conf');
  t.regex(lb, /server gateway-1:1446/);
  t.regex(lb, /server gateway-2:1446/);
  t.deepEqual(svcs.lb.ports, ['1446:1446']);
});

test('Kubernetes manifests: each service a Deployment with probes on its port, Services, HPA, PDBs, known variables', (t) => {
  const dir = join(root, 'deploy/k8s');
  const docs = readdirSync(dir).flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJS()));
  const of = (kind: string) => docs.filter((d) => d?.kind === kind);
  const cm = of('ConfigMap')[0];
  for (const k of Object.keys(cm.data)) t.true(KNOWN_ENV.has(k), `configmap: ${k} is read by the config`);
  const secret = of('Secret')[0];
  for (const svc of SERVICES) {
    const dep = of('Deployment').find((d) => d.metadata.name === `fileshare-${svc}`);
    t.truthy(dep, `${svc} deployment`);
    const c = dep.spec.template.spec.containers[0];
    t.deepEqual(c.args, ['start', svc]);
    t.is(c.image, 'fileshare:latest');
    const port = c.ports.find((p: { name: string }) => p.name === c.readinessProbe.httpGet.port).containerPort;
    t.is(port, PORT[svc], `${svc} probes the port it serves`);
    t.is(c.livenessProbe.httpGet.path, '/healthz');
    t.is(c.readinessProbe.httpGet.path, '/readyz');
    for (const e of c.env ?? []) {
      if (e.name.startsWith('FILESHARE_')) t.true(KNOWN_ENV.has(e.name), e.name);
      if (e.valueFrom?.secretKeyRef) t.true(e.valueFrom.secretKeyRef.key in secret.stringData, `${e.name} comes from a key the Secret has`);
    }
    t.true(dep.spec.template.spec.securityContext.runAsNonRoot);
    const labels = dep.spec.template.metadata.labels;
    const service = of('Service').find((s) => s.metadata.name === `fileshare-${svc}`);
    t.deepEqual(service.spec.selector, labels);
    const pdb = of('PodDisruptionBudget').find((p) => p.metadata.name === `fileshare-${svc}`);
    t.deepEqual(pdb.spec.selector.matchLabels, labels);
  }
  const storageUrl = new URL(cm.data.FILESHARE_STORAGE_URLS);
  const storageSvc = of('Service').find((s) => s.metadata.name === storageUrl.hostname);
  t.is(storageSvc?.spec.ports[0].port, Number(storageUrl.port), 'storage URL names the storage Service and port');
  const hpa = of('HorizontalPodAutoscaler')[0];
  t.is(hpa.spec.scaleTargetRef.name, 'fileshare-gateway');
  t.is(hpa.spec.scaleTargetRef.kind, 'Deployment');
  t.is(cm.data.FILESHARE_AUTH_USERS_FILE, '/etc/fileshare/users.json');
});

test('Dockerfile: multi-stage, non-root, the Node major the project is tested on', (t) => {
  const df = read('Dockerfile');
  const froms = [...df.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
  t.true(froms.length >= 2, 'multi-stage');
  for (const f of froms) t.regex(f, /^node:20\./, 'node 20');
  t.regex(pkg.engines.node, /20/);
  t.regex(df, /^USER node$/m);
  t.regex(df, /ENTRYPOINT \["node", "\/app\/cli\/bin\/fileshare\.js"\]/);
  t.regex(df, /RUN npm run build && npm prune --omit=dev/, 'compiled in the build stage, dev dependencies pruned');
  t.is(pkg.dependencies.tsx, undefined, 'no TypeScript loader at run time');
  t.regex(read('cli/bin/fileshare.js'), /\.\.\/dist\/main\.js/);
  const compose = parse(read('docker-compose.yml'), { merge: true });
  t.is(compose['x-fileshare'].build, '.');
});
