/** Context (no target): the S3 backend (s3rver) beside fs, large upload and download, distributed. */
import { http } from '../../test/helpers/http.js';
import { startDistributed } from '../../test/helpers/deploy.js';
import { FILESHARE_ENV, P, USER, expect, idOf, round, say, type Bench } from '../context.js';
import { MB, curl, fmt, median } from '../lib.js';

export interface S3Figures {
  /** MB/s. */
  post: number;
  download: number;
}

export async function s3Transfers(b: Bench): Promise<S3Figures> {
  const s3 = await startDistributed({ gateways: 1, blob: 's3', env: FILESHARE_ENV });
  try {
    const base = s3.gateways[0];
    const up: number[] = [];
    const down: number[] = [];
    for (let i = 0; i < P.runs; i++) {
      const r = expect('s3 POST', await curl(['-u', USER.join(':'), '--form', `file=@${b.files.big}`, `${base}/uploads`]), [201]);
      up.push(P.large / MB / r.seconds);
      const id = idOf(r.body);
      down.push(P.large / MB / expect('s3 GET', await curl(['-o', '/dev/null', `${base}/uploads/${id}`]), [200]).seconds);
      await http(`${base}/uploads/${id}`, { method: 'DELETE', auth: USER });
    }
    say(`S3 (s3rver): POST ${fmt(median(up))} MB/s, GET ${fmt(median(down))} MB/s`);
    return { post: round(median(up)), download: round(median(down)) };
  } finally {
    await s3.stop();
  }
}
