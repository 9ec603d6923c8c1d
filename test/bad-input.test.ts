import { startAllInOne } from './helpers/deploy.js';
import { SUITE_ENV } from './e2e/api.suite.js';
import { badInputSuite } from './e2e/bad-input.suite.js';

badInputSuite('all-in-one', () => startAllInOne(SUITE_ENV));
