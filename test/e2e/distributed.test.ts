import { startDistributed } from '../helpers/deploy.js';
import { SUITE_ENV, apiSuite } from './api.suite.js';

apiSuite('distributed', () => startDistributed({ gateways: 2, env: SUITE_ENV }));
