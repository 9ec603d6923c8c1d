import type { Config } from '@fileshare/shared';
import { apiBase } from '../router.js';
import type { Exchange } from './exchange.js';

const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/**
 * Absolute URLs of API paths (`Location`, `url` fields): `http.publicUrl` when set, else the
 * request's scheme and Host (the `X-Forwarded-*` ones with `http.trustProxy`). A Host that is not
 * a host name is replaced by `localhost`: a URL we hand out never carries an attacker's text.
 */
export class PublicUrls {
  private readonly base: string;

  constructor(
    private readonly cfg: Config,
    private readonly tls: boolean,
  ) {
    this.base = apiBase(cfg['http.basePath']);
  }

  /** `apiPath` is relative to the base path: `/uploads/<id>`. */
  url(ex: Exchange, apiPath: string): string {
    const pub = this.cfg['http.publicUrl'];
    if (pub) return pub.replace(/\/$/, '') + this.base + apiPath;
    const h = ex.req.headers;
    let scheme = this.tls ? 'https' : 'http';
    let host = h.host ?? '';
    if (this.cfg['http.trustProxy']) {
      const proto = h['x-forwarded-proto']?.split(',')[0].trim();
      if (proto === 'http' || proto === 'https') scheme = proto;
      const fwdHost = h['x-forwarded-host']?.split(',')[0].trim();
      if (fwdHost) host = fwdHost;
    }
    if (!HOST.test(host)) host = 'localhost';
    return `${scheme}://${host}${this.base}${apiPath}`;
  }
}
