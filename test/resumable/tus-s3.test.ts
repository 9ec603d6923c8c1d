import { startDistributed } from '../helpers/deploy.js';
import { tusSuite } from './tus.suite.js';

// The same chunks-as-blobs design on S3 (s3rver): two gateways, two storage replicas.
tusSuite('distributed on s3', (env) => startDistributed({ gateways: 2, storages: 2, blob: 's3', env }));
