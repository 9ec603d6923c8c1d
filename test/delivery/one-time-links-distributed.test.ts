import { startDistributed } from '../helpers/deploy.js';
import { oneTimeLinkSuite } from './one-time-links.suite.js';

// Two gateways and two tokens replicas: deliveries of one token are counted across them, and
// each replica forgets the files it kept when they are deleted.
oneTimeLinkSuite('distributed', (env) => startDistributed({ gateways: 2, tokens: 2, env }));
