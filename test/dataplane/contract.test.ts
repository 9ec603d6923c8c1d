import { join } from 'node:path';
import { SharedVolumeReads } from '@fileshare/shared';
import { dataPlaneContract } from '../contracts/dataplane.contract.js';

dataPlaneContract('in-process (storage)', (f) => f.storage.dataPlane);
dataPlaneContract('http', (f) => f.http);
dataPlaneContract('http, blobs read from the shared volume', (f) => new SharedVolumeReads(f.http, join(f.dir, 'blobs')));
