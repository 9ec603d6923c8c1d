import { startDistributed } from '../helpers/deploy.js';
import { oneTimeLinkSuite } from './one-time-links.suite.js';

// Two gateways: deliveries of one token are counted across them.
oneTimeLinkSuite('distributed', (env) => startDistributed({ gateways: 2, env }));
