import { startAllInOne } from './helpers/deploy.js';
import { SUITE_ENV, apiSuite } from './e2e/api.suite.js';

apiSuite('all-in-one', () => startAllInOne(SUITE_ENV));
