import { startDistributed } from './helpers/deploy.js';
import { SUITE_ENV } from './e2e/api.suite.js';
import { badInputSuite } from './e2e/bad-input.suite.js';

badInputSuite('distributed', () => startDistributed({ gateways: 1, env: SUITE_ENV }));
