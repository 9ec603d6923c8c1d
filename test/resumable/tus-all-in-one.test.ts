import { startAllInOne } from '../helpers/deploy.js';
import { tusSuite } from './tus.suite.js';

tusSuite('all-in-one', (env) => startAllInOne(env));
