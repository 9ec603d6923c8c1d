import { AppError, isId, isTokenId, type ErrorCode } from '@fileshare/shared';
import type { Exchange } from './http/exchange.js';
import { readJson, type Schema } from './http/json-body.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

/** The names of a pattern's parameters: `/sessions/:sid/files/:fid` → `'sid' | 'fid'`. */
export type ParamNames<P extends string> = P extends `${string}:${infer N}/${infer Rest}` ? N | ParamNames<`/${Rest}`> : P extends `${string}:${infer N}` ? N : never;

/** How one path parameter is checked; a value that fails is the `error` (a 404 of the route's kind). */
export interface ParamRule {
  valid: (value: string) => boolean;
  error: ErrorCode;
}
/** A record id (UUID). */
export const id = (error: ErrorCode): ParamRule => ({ valid: isId, error });
/** A one-time token id. */
export const tokenId = (error: ErrorCode): ParamRule => ({ valid: isTokenId, error });

/** What a handler gets once the route's declared checks passed. */
export interface RouteRequest<P extends string, B> {
  ex: Exchange;
  /** The authenticated user; '' on routes with `auth: 'none'`. */
  user: string;
  params: Record<ParamNames<P>, string>;
  /** The validated JSON body (`json` routes); undefined otherwise (the handler reads `ex.body`). */
  body: B;
}

/**
 * One API route and what it needs, checked by the router in this order before the handler runs:
 * `accept` (request line and headers, no identity needed), authentication, each parameter's rule,
 * then the JSON body (read within `limits.maxJsonBody`, validated by `json`). Fastify's per-route
 * options, in small.
 */
export interface RouteSpec<P extends string, B> {
  method: Method;
  /** e.g. `/uploads/:id`; `:name` matches one segment. */
  pattern: P;
  /** Cheap refusals that need no identity (content type, declared length): they come before a password check. */
  accept?: (ex: Exchange) => void;
  /**
   * `basic`: HTTP Basic credentials (401/429); `none`: the URL is the capability. A function
   * decides per request (a tus HEAD of an upload URL is its owner's; a plain HEAD is anyone's).
   */
  auth: 'basic' | 'none' | ((ex: Exchange) => 'basic' | 'none');
  params: Record<ParamNames<P>, ParamRule>;
  /** An optional JSON object body, validated; absent: the handler streams the body itself. */
  json?: Schema<B>;
  /** May answer in the same turn (return nothing): a kept record's download needs no promise. */
  handler: (req: RouteRequest<P, B>) => Promise<void> | void;
}

/** A route with its types erased, as the router keeps it. */
export interface Route {
  method: Method;
  pattern: string;
  /** Nothing returned: the route answered (or began its answer) in this turn; see RouteSpec.handler. */
  run(ex: Exchange, values: string[], ctx: RouteRunner): Promise<void> | void;
}

/** What the router needs from the gateway to run a route's checks. */
export interface RouteRunner {
  authenticate(ex: Exchange): Promise<string>;
  maxJsonBody: number;
}

/** Declares a route (see RouteSpec); the types of params and body are checked here. */
export function route<P extends string, B = undefined>(spec: RouteSpec<P, B>): Route {
  const names = spec.pattern
    .split('/')
    .filter((s) => s.startsWith(':'))
    .map((s) => s.slice(1) as ParamNames<P>);
  const rules = names.map((n) => spec.params[n]);
  // After authentication: the parameters, then the JSON body, then the handler.
  const authenticated = (ex: Exchange, values: string[], ctx: RouteRunner, user: string): Promise<void> | void => {
    const params = {} as Record<ParamNames<P>, string>;
    for (let i = 0; i < names.length; i++) {
      if (!rules[i].valid(values[i])) throw new AppError(rules[i].error);
      params[names[i]] = values[i];
    }
    const json = spec.json;
    if (!json) return spec.handler({ ex, user, params, body: undefined as B });
    return readJson(ex, ctx.maxJsonBody).then((raw) => spec.handler({ ex, user, params, body: json(raw) }));
  };
  return {
    method: spec.method,
    pattern: spec.pattern,
    // Not async: a route that needs no password and no body runs its handler in this turn.
    run(ex, values, ctx) {
      spec.accept?.(ex);
      const auth = typeof spec.auth === 'function' ? spec.auth(ex) : spec.auth;
      if (auth === 'basic') return ctx.authenticate(ex).then((user) => authenticated(ex, values, ctx, user));
      return authenticated(ex, values, ctx, '');
    },
  };
}

interface Compiled extends Route {
  segments: string[];
}

export type Match = { kind: 'route'; route: Route; params: string[] } | { kind: 'method'; allow: string } | { kind: 'none' };

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
    let allowed: Set<string> | undefined;
    for (const r of this.routes) {
      if (r.segments.length !== segments.length || !sameLiterals(r.segments, segments)) continue;
      if (r.method === method || (method === 'HEAD' && r.method === 'GET')) {
        const params: string[] = [];
        for (let i = 0; i < segments.length; i++) if (r.segments[i][0] === ':') params.push(segments[i]);
        return { kind: 'route', route: r, params };
      }
      allowed ??= new Set<string>();
      allowed.add(r.method);
      if (r.method === 'GET') allowed.add('HEAD');
    }
    return allowed ? { kind: 'method', allow: [...allowed].join(', ') } : { kind: 'none' };
  }
}

/** Whether `path` has `pattern`'s literal segments (`:name` matches any); same lengths. */
function sameLiterals(pattern: string[], path: string[]): boolean {
  for (let i = 0; i < path.length; i++) if (pattern[i][0] !== ':' && pattern[i] !== path[i]) return false;
  return true;
}

/** Split a raw path into decoded segments; null when it is not a clean path (404). */
export function splitPath(path: string): string[] | null {
  const raw = path.split('/').slice(1);
  const out: string[] = [];
  for (const s of raw) {
    if (s === '') return null; // "//" or a trailing slash
    try {
      // Most segments have nothing encoded (ids, route names): decoding them would give them back.
      const d = s.includes('%') ? decodeURIComponent(s) : s;
      // eslint-disable-next-line no-control-regex -- control characters are what this refuses
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

/** `http.basePath` as a prefix: '' for the root. */
export function apiBase(basePath: string): string {
  return basePath === '/' ? '' : basePath;
}

/**
 * The path relative to `http.basePath` ('' for the root): `/rtc/fileshare/uploads` → `/uploads`,
 * the base itself → ''; null for a path outside the API (the operational endpoints, anything else).
 */
export function apiRelative(path: string, base: string): string | null {
  if (!base) return path;
  return path === base || path.startsWith(base + '/') ? path.slice(base.length) : null;
}
