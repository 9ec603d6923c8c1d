import { AppError } from '@fileshare/shared';
import type { Exchange } from './http/exchange.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
export type Handler = (ex: Exchange, params: string[]) => Promise<void>;

export interface Route {
  method: Method;
  /** e.g. `/uploads/:id`; `:name` matches one segment. */
  pattern: string;
  handler: Handler;
}

interface Compiled extends Route {
  segments: string[];
}

export type Match =
  | { kind: 'route'; route: Route; params: string[] }
  | { kind: 'method'; allow: string }
  | { kind: 'none' };

/**
 * Exact-segment routing over a small table. HEAD is served by the GET route (handlers send no
 * body for HEAD). A path known under another method answers 405 with `Allow`.
 */
export class Router {
  private readonly routes: Compiled[] = [];

  add(route: Route): void {
    this.routes.push({ ...route, segments: route.pattern.split('/').slice(1) });
  }

  match(method: string, segments: string[]): Match {
    const allowed = new Set<string>();
    for (const r of this.routes) {
      if (r.segments.length !== segments.length) continue;
      const params: string[] = [];
      let ok = true;
      for (let i = 0; i < segments.length; i++) {
        if (r.segments[i][0] === ':') params.push(segments[i]);
        else if (r.segments[i] !== segments[i]) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      if (r.method === method || (method === 'HEAD' && r.method === 'GET')) return { kind: 'route', route: r, params };
      allowed.add(r.method);
      if (r.method === 'GET') allowed.add('HEAD');
    }
    return allowed.size ? { kind: 'method', allow: [...allowed].join(', ') } : { kind: 'none' };
  }
}

/** Split a raw path into decoded segments; null when it is not a clean path (404). */
export function splitPath(path: string): string[] | null {
  const raw = path.split('/').slice(1);
  const out: string[] = [];
  for (const s of raw) {
    if (s === '') return null; // "//" or a trailing slash
    try {
      const d = decodeURIComponent(s);
      if (d.includes('/') || d.includes('\\') || d === '.' || d === '..' || /[\u0000-\u001f]/.test(d)) return null;
      out.push(d);
    } catch {
      return null;
    }
  }
  return out;
}

export function methodNotAllowed(allow: string): AppError {
  return new AppError('method_not_allowed', undefined, { Allow: allow });
}

/**
 * The path relative to `http.basePath` ('' for the root): `/rtc/fileshare/uploads` → `/uploads`,
 * the base itself → ''; null for a path outside the API (the operational endpoints, anything else).
 */
export function apiRelative(path: string, base: string): string | null {
  if (!base) return path;
  return path === base || path.startsWith(base + '/') ? path.slice(base.length) : null;
}
