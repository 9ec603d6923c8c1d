import { dataPlaneContract } from '../contracts/dataplane.contract.js';

dataPlaneContract('in-process (storage)', (f) => f.storage.dataPlane);
dataPlaneContract('http', (f) => f.http);
