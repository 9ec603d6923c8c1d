import { join } from 'node:path';
import { SharedVolumeReads } from '@fileshare/shared';
import { dataPlaneContract } from '../contracts/dataplane.contract.js';

dataPlaneContract('in-process (storage)', (f) => f.storage.dataPlane);
// As in the all-in-one process: a small blob's row commits with its record (DefersWhole, deferSmall).
dataPlaneContract('in-process, small blobs in the record store', (f) => f.storage.dataPlane, { inlineInRecords: true });
dataPlaneContract('http', (f) => f.http);
dataPlaneContract('http, blobs read from the shared volume', (f) => new SharedVolumeReads(f.http, join(f.dir, 'blobs')));
