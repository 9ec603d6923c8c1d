import { startAllInOne } from '../helpers/deploy.js';
import { SUITE_ENV } from './api.suite.js';
import { badInputSuite } from './bad-input.suite.js';

badInputSuite('all-in-one', () => startAllInOne(SUITE_ENV));
