// The optional HTTP listener ([metrics] in fail2ban.local): Prometheus metrics, a JSON API and
// the dashboard page. Off unless configured; 127.0.0.1 unless told otherwise.
//
//   GET  /metrics          Prometheus exposition format
//   GET  /api/status       {version, jails: [{name, currentlyFailed, totalFailed, currentlyBanned, totalBanned, files|journalMatches}], fleet}
//   GET  /api/bans         {JAIL: [{ip, time, bantime, end}]}  (end null = permanent)
//   GET  /api/history      failures and bans per minute, the last hour
//   GET  /api/events?since=SEQ   the latest ban and unban events after SEQ
//   GET  /api/top          top offending addresses and subnets (failures counting now, bans now)
//   POST /api/unban        {"ip": "...", "jail": "..."?}: lifts the ban (every jail when no jail)
//   GET  /                 the dashboard (static; it reads the API with the token it is given)
//
// With `token` set, every route but the page needs `Authorization: Bearer TOKEN` (401 without);
// /api/unban needs a token to be set at all (403 otherwise): an open listener never unbans.

import { timingSafeEqual } from 'node:crypto';
import * as http from 'node:http';
import type { Logger } from '../log/logger';

export interface HttpSettings {
  host: string;
  port: number;
  token?: string;
}

export interface HttpApi {
  metrics(): Promise<{ body: string; contentType: string }>;
  status(): Promise<unknown>;
  bans(): Promise<unknown>;
  history(): unknown;
  events(since: number): unknown;
  top(): unknown;
  /** the number of bans lifted; throws Error with `status` 404 for an unknown jail */
  unban(ip: string, jail?: string): Promise<number>;
  /** the dashboard page */
  page(): string;
}

const MAX_BODY = 4096;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function tokenMatches(given: string, token: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413, 'request body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export class HttpListener {
  private constructor(
    private readonly server: http.Server,
    readonly address: { host: string; port: number },
  ) {}

  /** Listens; rejects when the address cannot be bound. */
  static async listen(settings: HttpSettings, api: HttpApi, log: Logger): Promise<HttpListener> {
    const server = http.createServer((req, res) => {
      void handle(req, res, settings, api).catch((e: Error) => {
        const status = e instanceof HttpError ? e.status : 500;
        if (status === 500) log.error(`HTTP ${req.method} ${req.url}: ${e.message}`);
        if (!res.headersSent) res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: e.message }));
      });
    });
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(settings.port, settings.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const a = server.address() as { address: string; port: number };
    return new HttpListener(server, { host: a.address, port: a.port });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse, settings: HttpSettings, api: HttpApi): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const json = (status: number, value: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(value, (_k, v: unknown) => (v === Infinity ? null : v)));
  };
  if (req.method === 'GET' && (url.pathname === '/' || url.pathname === '/index.html')) {
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      // the page carries its own script and style; nothing else may load
      'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
    });
    res.end(api.page());
    return;
  }
  if (settings.token !== undefined) {
    const auth = req.headers.authorization ?? '';
    const given = /^Bearer (.+)$/.exec(auth)?.[1] ?? '';
    if (!tokenMatches(given, settings.token)) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' });
      res.end(JSON.stringify({ error: 'a bearer token is required' }));
      return;
    }
  }
  const route = `${req.method} ${url.pathname}`;
  switch (route) {
    case 'GET /metrics': {
      const m = await api.metrics();
      res.writeHead(200, { 'content-type': m.contentType });
      res.end(m.body);
      return;
    }
    case 'GET /api/status':
      return json(200, await api.status());
    case 'GET /api/bans':
      return json(200, await api.bans());
    case 'GET /api/history':
      return json(200, api.history());
    case 'GET /api/events': {
      const since = Number(url.searchParams.get('since') ?? '0');
      return json(200, api.events(Number.isFinite(since) ? since : 0));
    }
    case 'GET /api/top':
      return json(200, api.top());
    case 'POST /api/unban': {
      if (settings.token === undefined) throw new HttpError(403, 'unban over HTTP needs a token: set token in [metrics]');
      let body: { ip?: unknown; jail?: unknown };
      try {
        body = JSON.parse(await readBody(req)) as typeof body;
      } catch (e) {
        if (e instanceof HttpError) throw e;
        throw new HttpError(400, 'the body must be JSON: {"ip": "...", "jail": "..."}');
      }
      if (typeof body.ip !== 'string' || (body.jail !== undefined && typeof body.jail !== 'string')) {
        throw new HttpError(400, 'the body must be JSON: {"ip": "...", "jail": "..."}');
      }
      return json(200, { unbanned: await api.unban(body.ip, body.jail as string | undefined) });
    }
  }
  const known = ['/metrics', '/api/status', '/api/bans', '/api/history', '/api/events', '/api/top', '/api/unban'].includes(url.pathname);
  throw new HttpError(known ? 405 : 404, known ? `${req.method} is not allowed here` : `no such page: ${url.pathname}`);
}
