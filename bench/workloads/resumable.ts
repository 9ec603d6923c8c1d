/**
 * Row 5: the big file through tus-js-client in 64 MB chunks — fileshare (tus 1.0 and the IETF
 * draft) vs @tus/server, measured in turn round by round (`inTurn`).
 */
import { readFileSync } from 'node:fs';
import * as tus from 'tus-js-client';
import { http } from '../../test/helpers/http.js';
import { AUTH, P, USER, inTurn, round, say, type Bench, type PerSystem } from '../context.js';
import { MB, fmt, median } from '../lib.js';

export interface ResumableFigures {
  /** MB/s per system, tus 1.0 and IETF draft (interop 6). */
  tus: PerSystem<number>;
  ietf: PerSystem<number>;
  /** @tus/server, tus 1.0, same client and chunk size. */
  ref: number;
}

/** What tus-js-client 4.3 calls its protocols (its type declarations do not list them yet). */
type Protocol = 'tus-v1' | 'ietf-draft-05';
const CHUNK = 64 * 1024 * 1024;

/**
 * One upload of `data` to `endpoint` (creation, then PATCHes of 64 MB): MB/s from the POST to the
 * last 2xx. The client gets the file in memory (read before the clock starts): from a stream,
 * tus-js-client copies every chunk into a buffer of its own first, and the client, not the
 * servers, would be what is measured.
 */
async function upload(data: Buffer, endpoint: string, protocol: Protocol, headers: Record<string, string> = {}): Promise<{ mbps: number; url: string }> {
  const started = process.hrtime.bigint();
  const u = new tus.Upload(data, {
    endpoint,
    chunkSize: CHUNK,
    metadata: { filename: 'big.bin', filetype: 'application/octet-stream' },
    headers,
    retryDelays: [],
    storeFingerprintForResuming: false,
    ...({ protocol } as object),
  });
  await new Promise<void>((resolve, reject) => {
    u.options.onSuccess = () => resolve();
    u.options.onError = reject;
    u.start();
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { mbps: P.large / MB / seconds, url: u.url! };
}

export async function resumableUploads(b: Bench): Promise<ResumableFigures> {
  const f = { tus: {}, ietf: {} } as Omit<ResumableFigures, 'ref'>;
  const data = readFileSync(b.files.big);
  const measure: Record<string, () => Promise<number>> = {};
  for (const s of b.systems)
    for (const protocol of ['tus-v1', 'ietf-draft-05'] as const)
      measure[`${s.name} ${protocol}`] = async () => {
        const r = await upload(data, `${s.base}/uploads`, protocol, { authorization: AUTH });
        await http(r.url, { method: 'DELETE', auth: USER });
        return r.mbps;
      };
  measure.ref = async () => {
    const r = await upload(data, b.tus.url, 'tus-v1');
    b.tus.remove(r.url); // as fileshare's are deleted: no system's rounds pile up files on the disk
    return r.mbps;
  };
  // fileshare and @tus/server in turn, round after round (inTurn).
  const runs = await inTurn(measure);
  for (const s of b.systems) {
    f.tus[s.name] = round(median(runs[`${s.name} tus-v1`]));
    f.ietf[s.name] = round(median(runs[`${s.name} ietf-draft-05`]));
    say(`5 ${s.name}: tus-js-client 64 MB chunks: tus ${fmt(f.tus[s.name])}, IETF ${fmt(f.ietf[s.name])} MB/s`);
  }
  await b.tus.restart();
  const ref = round(median(runs.ref));
  say(`5 ref: @tus/server, tus-js-client 64 MB chunks: ${fmt(ref)} MB/s`);
  return { ...f, ref };
}
