/**
 * npm run bench [-- --quick]
 *
 * fileshare (all-in-one, and distributed on NATS + Redis) side by side with references measured
 * in the same run on the same machine with the same clients: nginx (sendfile GET, WebDAV PUT),
 * a minimal Node http server that fsyncs each PUT, and @tus/server + @tus/file-store.
 * Every target is a ratio against a reference from this run (targets.ts). The workloads are in
 * workloads/, each returning typed figures. Writes bench/results.json.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename, join } from 'node:path';
import { startAllInOne, startDistributed } from '../test/helpers/deploy.js';
import { freePort, waitForPort } from '../test/helpers/ports.js';
import { FILESHARE_ENV, HERE, P, WORK, makeFile, quick, requireTools, say, type Bench } from './context.js';
import { MB, fmt } from './lib.js';
import { cleanUp, onCleanup, spawnReference } from './processes.js';
import { nginxConfig } from './references/nginx.js';
import { met, targets, type Figures } from './targets.js';
import { expirySweeps } from './workloads/expiry-sweep.js';
import { growth } from './workloads/growth.js';
import { largeTransfers } from './workloads/large-transfers.js';
import { ceilings } from './workloads/ceilings.js';
import { concurrentUploadRss } from './workloads/memory.js';
import { s3Transfers } from './workloads/s3.js';
import { benchCertificate, httpsTransfers } from './workloads/https.js';
import { resumableUploads } from './workloads/resumable.js';
import { smallRequests } from './workloads/small-requests.js';
import { tokenRoundTrips } from './workloads/tokens.js';

/** nginx (HTTP and HTTPS), the fsyncing Node server (http and https) and @tus/server, on free ports. */
async function startReferences(): Promise<Omit<Bench, 'systems' | 'files'>> {
  const cert = benchCertificate();
  const [ngxPort, ngxTlsPort] = [await freePort(), await freePort()];
  const ngxDir = join(WORK, 'nginx');
  spawnReference('nginx', ['-c', nginxConfig(ngxDir, ngxPort, { port: ngxTlsPort, ...cert }), '-p', ngxDir, '-g', 'daemon off;']);
  const [nodePort, nodeTlsPort] = [await freePort(), await freePort()];
  spawnReference(process.execPath, ['--import', 'tsx', join(HERE, 'references/node-server.ts'), String(nodePort), join(WORK, 'node-ref')]);
  spawnReference(process.execPath, ['--import', 'tsx', join(HERE, 'references/node-server.ts'), String(nodeTlsPort), join(WORK, 'node-ref-tls'), cert.key, cert.cert]);
  const tusPort = await freePort();
  const startTus = () => spawnReference(process.execPath, ['--import', 'tsx', join(HERE, 'references/tus-server.ts'), String(tusPort), join(WORK, 'tus')]);
  let tus = startTus();
  await Promise.all([waitForPort(ngxPort), waitForPort(ngxTlsPort), waitForPort(nodePort), waitForPort(nodeTlsPort), waitForPort(tusPort)]);
  return {
    tls: { ...cert, nginxUrl: `https://127.0.0.1:${ngxTlsPort}`, nodeUrl: `https://127.0.0.1:${nodeTlsPort}` },
    nginx: { url: `http://127.0.0.1:${ngxPort}`, www: join(ngxDir, 'www') },
    node: { url: `http://127.0.0.1:${nodePort}` },
    tus: {
      url: `http://127.0.0.1:${tusPort}/files`,
      remove: (uploadUrl: string) => {
        const id = basename(new URL(uploadUrl).pathname);
        for (const f of [id, `${id}.json`]) rmSync(join(WORK, 'tus', f), { force: true });
      },
      // @tus/server 2.x on Node 20 was seen to crash after a GET: restarted between workloads.
      async restart() {
        // Wait for the old one to be gone: otherwise the new one cannot bind and the port check
        // would be answered by the dying process.
        if (tus.exitCode === null && tus.signalCode === null) {
          const gone = new Promise((r) => tus.once('exit', r));
          tus.kill('SIGKILL');
          await gone;
        }
        tus = startTus();
        await waitForPort(tusPort);
      },
    },
  };
}

async function main(): Promise<void> {
  requireTools(['curl', 'wrk', 'nginx', 'openssl']);
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  const files = { big: join(WORK, 'big.bin'), small: join(WORK, 'small.bin'), mid: join(WORK, 'mid.bin') };
  makeFile(files.big, P.large);
  makeFile(files.small, 4096);
  makeFile(files.mid, P.memSize);
  say(`bench: ${quick ? 'QUICK (indicative)' : 'full'} run, large file ${P.large / MB} MB, ${P.runs} run(s) each, median reported`);

  const refs = await startReferences();
  const aio = await startAllInOne(FILESHARE_ENV);
  onCleanup(() => aio.stop());
  // The second gateway streams downloads and uploads through storage (blob.fs.gatewayReads and
  // gatewayWrites off): the figures of a gateway that does not share the blobs' volume. Every other
  // workload uses the first.
  const dist = await startDistributed({
    gateways: 2,
    env: FILESHARE_ENV,
    processEnv: { gateway2: { FILESHARE_BLOB_FS_GATEWAY_READS: 'false', FILESHARE_BLOB_FS_GATEWAY_WRITES: 'false' } },
  });
  onCleanup(() => dist.stop());
  const b: Bench = {
    ...refs,
    files,
    systems: [
      { name: 'all-in-one', d: aio, base: aio.gateways[0] },
      { name: 'distributed', d: dist, base: dist.gateways[0] },
    ],
  };

  const large = await largeTransfers(b);
  const resumable = await resumableUploads(b);
  const s3 = await s3Transfers(b);
  const small = await smallRequests(b);
  const tokens = await tokenRoundTrips(b);
  const perProcess = await ceilings(b);
  const concurrentRss = await concurrentUploadRss(b);
  const https = await httpsTransfers(b, b.tls);
  await cleanUp();
  const grown = await growth(files);
  const sweeps = await expirySweeps();

  const figures: Figures = { large, resumable, small, tokens, concurrentRss, growth: grown, https };
  const rows = targets(figures);
  const out = {
    date: new Date().toISOString(),
    quick,
    params: P,
    machine: { cpus: cpus().length, node: process.version },
    figures: { ...figures, s3, sweeps, ceilings: perProcess },
    targets: rows,
  };
  writeFileSync(join(HERE, 'results.json'), JSON.stringify(out, null, 2) + '\n');

  const w = Math.max(...rows.map((t) => t.name.length));
  console.log(`\nfileshare benchmark (${quick ? 'quick: indicative only' : 'full run'}), ${out.date}`);
  console.log(`${'target'.padEnd(w)}  ${'value'.padStart(10)}  ${'reference'.padStart(10)}  ${'ratio'.padStart(7)}  want     ok`);
  for (const t of rows)
    console.log(
      `${t.name.padEnd(w)}  ${fmt(t.value, 2).padStart(10)}  ${fmt(t.reference, 2).padStart(10)}  ${fmt(t.ratio, 3).padStart(7)}  ${t.target.padEnd(7)}  ${met(t) ? 'yes' : 'NO'}`,
    );
  console.log('\nall figures:');
  console.log(JSON.stringify(out.figures, null, 2));
  console.log(`\n${rows.filter(met).length}/${rows.length} targets met; bench/results.json written`);
}

main().then(
  () => process.exit(0),
  async (err) => {
    console.error(err);
    await cleanUp();
    process.exit(1);
  },
);
