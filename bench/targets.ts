/**
 * The target rows: each a ratio of two figures measured in this run (or of a figure and a budget
 * we set). Figures are typed fields of the workloads' results: a row cannot name a figure that was
 * not measured.
 */
import { P, SYSTEMS, round } from './context.js';
import type { GrowthFigures } from './workloads/growth.js';
import type { LargeFigures } from './workloads/large-transfers.js';
import type { HttpsFigures } from './workloads/https.js';
import type { ResumableFigures } from './workloads/resumable.js';
import type { SmallFigures } from './workloads/small-requests.js';
import type { TokenFigures } from './workloads/tokens.js';
import type { PerSystem } from './context.js';

export interface Figures {
  large: LargeFigures;
  resumable: ResumableFigures;
  small: SmallFigures;
  tokens: PerSystem<TokenFigures>;
  concurrentRss: PerSystem<number>;
  growth: PerSystem<GrowthFigures>;
  https: HttpsFigures;
}

export interface Target {
  name: string;
  value: number;
  reference: number;
  ratio: number;
  /** `>=x` (higher is better) or `<=x` (lower is better). */
  target: string;
}

export const met = (t: Target) => (t.target.startsWith('>=') ? t.ratio >= Number(t.target.slice(2)) : t.ratio <= Number(t.target.slice(2)));

export function targets(f: Figures): Target[] {
  const rows: Target[] = [];
  const row = (name: string, value: number, reference: number, target: string) => {
    if (!Number.isFinite(value) || !Number.isFinite(reference) || reference === 0) throw new Error(`bench: target "${name}" has no figure (${value} / ${reference})`);
    rows.push({ name, value: round(value), reference: round(reference), ratio: round(value / reference, 3), target });
  };
  for (const s of SYSTEMS) {
    const aio = s === 'all-in-one';
    row(`1 large upload raw PUT vs node PUT+fsync (${s})`, f.large.put[s], f.large.ref.nodePut, aio ? '>=1.0' : '>=0.8');
    row(`1 large upload multipart POST vs node PUT+fsync (${s})`, f.large.post[s], f.large.ref.nodePut, aio ? '>=0.85' : '>=0.7');
    row(`1 large upload raw PUT vs @tus/server PATCH (${s})`, f.large.put[s], f.large.ref.tusPatch, aio ? '>=1.2' : '>=1.0');
    row(`2 large download vs nginx sendfile (${s})`, f.large.download[s], f.large.ref.nginxGet, aio ? '>=0.7' : '>=0.5');
    row(`3 small downloads vs nginx static (${s})`, f.small.get[s].rps, f.small.ref.nginxGet.rps, aio ? '>=0.20' : '>=0.10');
    row(`4 small uploads vs node PUT+fsync each (${s})`, f.small.post[s].rps, f.small.ref.nodePut.rps, aio ? '>=0.6' : '>=0.4');
    row(`5 tus upload, tus-js-client 64 MB chunks, vs @tus/server (${s})`, f.resumable.tus[s], f.resumable.ref, aio ? '>=1.2' : '>=1.0');
    row(`5 IETF-draft upload, tus-js-client 64 MB chunks, vs @tus/server tus (${s})`, f.resumable.ietf[s], f.resumable.ref, aio ? '>=1.2' : '>=1.0');
    // Row 6's references are budgets we set, not measurements of another system.
    row(`6 peak RSS MB per process, large upload, vs a 150 MB budget (${s})`, f.large.uploadRss[s], 150, '<=1.0');
    row(`6 peak RSS MB per process, ${P.memN}x${P.memSize / 1e6} MB uploads, vs a 400 MB budget (${s})`, f.concurrentRss[s], 400, '<=1.0');
    row(`7 small GET p99, random keys, at ${P.big} vs ${P.small} records, clean store (${s})`, f.growth[s].many, f.growth[s].few, '<=1.3');
    // Round two (the performance issue's targets): the small-request path near uWS's own speed, and HTTPS.
    row(`8 small GET vs nginx static, HTTP, round two (${s})`, f.small.get[s].rps, f.small.ref.nginxGet.rps, aio ? '>=0.6' : '>=0.4');
    row(`8 small GET vs nginx static, HTTPS (${s})`, f.https.get[s].rps, f.https.ref.nginxGet.rps, aio ? '>=0.6' : '>=0.4');
    row(`8 small GET p99 vs nginx p99, HTTP, 64 connections (${s})`, f.small.get[s].p99, f.small.ref.nginxGet.p99, aio ? '<=3' : '<=4');
    row(`8 small uploads vs node PUT+fsync each, round two (${s})`, f.small.post[s].rps, f.small.ref.nodePut.rps, aio ? '>=1.2' : '>=0.8');
    // Against the uploads measured in alternation with the round trips (tokens.ts), not row 4's.
    row(`8 token round trip ops/s vs small uploads req/s (${s})`, f.tokens[s].rps, f.tokens[s].uploadsAlongside.rps, aio ? '>=1.0' : '>=0.8');
    row(`8 large download vs nginx sendfile, HTTP, round two (${s})`, f.large.download[s], f.large.ref.nginxGet, aio ? '>=0.8' : '>=0.7');
    row(`8 large download vs nginx, HTTPS (${s})`, f.https.download[s], f.https.ref.nginxDownload, aio ? '>=0.8' : '>=0.6');
    row(`8 large raw PUT vs node https PUT+fsync, HTTPS (${s})`, f.https.put[s], f.https.ref.nodePut, aio ? '>=1.0' : '>=0.8');
  }
  return rows;
}
