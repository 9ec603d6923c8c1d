import { startDistributed } from '../helpers/deploy.js';
import { tusSuite } from './tus.suite.js';

// Two gateways and two storage replicas on one shared fs volume: no request sticks to either.
tusSuite('distributed', (env) => startDistributed({ gateways: 2, storages: 2, env }));
