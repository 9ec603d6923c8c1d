import { startDistributed } from '../helpers/deploy.js';
import { SUITE_ENV, apiSuite } from './api.suite.js';

// The whole API once more on the distributed deployment with the S3 backend (s3rver).
apiSuite('distributed+s3', () => startDistributed({ gateways: 2, blob: 's3', env: SUITE_ENV }));
