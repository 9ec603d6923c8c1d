import { startAllInOne } from '../helpers/deploy.js';
import { oneTimeLinkSuite } from './one-time-links.suite.js';

oneTimeLinkSuite('all-in-one', (env) => startAllInOne(env));
