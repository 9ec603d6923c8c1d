import { startDistributed } from '../helpers/deploy.js';
import { SUITE_ENV } from './api.suite.js';
import { badInputSuite } from './bad-input.suite.js';

badInputSuite('distributed', () => startDistributed({ gateways: 1, env: SUITE_ENV }));
