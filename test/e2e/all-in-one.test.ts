import { startAllInOne } from '../helpers/deploy.js';
import { SUITE_ENV, apiSuite } from './api.suite.js';

apiSuite('all-in-one', () => startAllInOne(SUITE_ENV));
