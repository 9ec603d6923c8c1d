#!/usr/bin/env node
// Container healthcheck without curl: exit 0 when URL answers 200 (self-signed TLS accepted,
// the probe runs inside the container against 127.0.0.1).
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';

const url = process.argv[2] ?? 'http://127.0.0.1:1446/readyz';
const get = url.startsWith('https:') ? httpsGet : httpGet;
const req = get(url, { rejectUnauthorized: false, timeout: 3000 }, (res) => {
  res.resume();
  process.exit(res.statusCode === 200 ? 0 : 1);
});
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', () => process.exit(1));
