import { SharedVolume } from '@fileshare/shared';
import { dataPlaneContract } from '../contracts/dataplane.contract.js';

dataPlaneContract('in-process (storage)', (f) => f.storage.dataPlane);
// As in the all-in-one process: a small blob's row commits with its record (DefersWhole, deferSmall).
dataPlaneContract('in-process, small blobs in the record store', (f) => f.storage.dataPlane, { inlineInRecords: true });
dataPlaneContract('http', (f) => f.http);
dataPlaneContract('http, blobs read from the shared volume', (f) => new SharedVolume(f.http, f.dir, { reads: true, writes: false }));
// The gateway writes new blobs onto the volume itself; storage keeps their guards and records.
dataPlaneContract('http, blobs written and read on the shared volume', async (f) => {
  const plane = new SharedVolume(f.http, f.dir, { reads: true, writes: true });
  await plane.probed;
  return plane;
});
