import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * nginx from Debian as the static-file and WebDAV reference: GET with sendfile, PUT through
 * the DAV module (written to the page cache; no fsync). One worker per core, access log off.
 * With `tls`, the same server also listens with TLS (the benchmark's certificate, as fileshare's).
 */
export function nginxConfig(dir: string, port: number, tls?: { port: number; cert: string; key: string }): string {
  const root = join(dir, 'www');
  for (const d of ['www/dav', 'tmp', 'logs']) mkdirSync(join(dir, d), { recursive: true });
  // nginx's workers run as nobody when the master is root: the DAV and temp dirs must be theirs to
  // write, or every PUT answers 500 (rename(): Permission denied) and its MB/s means nothing.
  for (const d of ['www/dav', 'tmp']) chmodSync(join(dir, d), 0o777);
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes auto;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'logs/error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path ${join(dir, 'tmp')};
  proxy_temp_path ${join(dir, 'tmp')};
  fastcgi_temp_path ${join(dir, 'tmp')};
  uwsgi_temp_path ${join(dir, 'tmp')};
  scgi_temp_path ${join(dir, 'tmp')};
  server {
    listen 127.0.0.1:${port};
    ${
      tls
        ? `listen 127.0.0.1:${tls.port} ssl;
    ssl_certificate ${tls.cert};
    ssl_certificate_key ${tls.key};
    ssl_session_cache shared:SSL:10m;`
        : ''
    }
    root ${root};
    client_max_body_size 0;
    location /dav/ {
      dav_methods PUT DELETE;
      create_full_put_path on;
    }
  }
}
`,
  );
  return conf;
}
