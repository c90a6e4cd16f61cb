// The debugger's local web server (node:http). It serves an explicit whitelist and nothing else:
//   /  and /index.html, /style.css          src/debugger/static/
//   /dist/...js                              the compiled modules the page imports (the import
//                                            closure of dist/debugger/app/main.js, computed at
//                                            start; each file's real path must stay inside dist/)
//   /build/core.wasm                         the Wasm core
//   /node_modules/@assemblyscript/loader/index.js   the loader (the page's import map points here)
//   /api/session                             the session JSON (chip, program(s), source)
// Everything else is refused: 414 for an over-long URL, 403 for a Host header that is not the
// bound address (DNS rebinding), 405 for any method but GET, 413 for a request with a body,
// 400 for a malformed URL, `..` or `.` segments (raw or percent-encoded), backslashes, NUL or
// encoded slashes, 404 for any other path. No directory listings, no file outside the project.
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { readFileSync, realpathSync, existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { join, sep, dirname, resolve } from 'node:path';
import { isIP } from 'node:net';
import type { Session } from './app/session-types.js';

export const DEFAULT_PORT = 8320;
export const MAX_URL_LENGTH = 2048;
const MAX_HEADER_BYTES = 16 * 1024;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json; charset=utf-8',
};

export interface ServerOptions {
  session: Session;
  host?: string;
  /** 0: any free port. Default 8320. */
  port?: number;
  /** The project root (default: two folders above this module, i.e. above dist/). */
  root?: string;
}

export interface RunningServer {
  server: Server;
  host: string;
  port: number;
  url: string;
  close(): Promise<void>;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The relative imports of a compiled ES module. */
function importsOf(code: string): string[] {
  const out: string[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(?\s*)(['"])(\.{1,2}\/[^'"]+)\1/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(code))) out.push(m[2]);
  return out;
}

/** dist/ files reachable from the app's entry module. */
function appClosure(dist: string, entry: string): Set<string> {
  const seen = new Set<string>();
  const stack = [entry];
  while (stack.length) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    if (!existsSync(file)) continue;
    const real = realpathSync(file);
    if (!real.startsWith(dist + sep)) continue;
    seen.add(file);
    for (const spec of importsOf(readFileSync(file, 'utf8'))) stack.push(resolve(dirname(file), spec));
  }
  return seen;
}

interface Route {
  file: string | null;
  type: string;
  /** Files under dist/ are checked again when served. */
  underDist: boolean;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const root = realpathSync(opts.root ?? fileURLToPath(new URL('../../', import.meta.url)));
  const dist = realpathSync(join(root, 'dist'));
  const staticDir = join(root, 'src', 'debugger', 'static');
  const host = opts.host ?? '127.0.0.1';
  const wantPort = opts.port ?? DEFAULT_PORT;
  const sessionJson = JSON.stringify(opts.session);

  const routes = new Map<string, Route>();
  routes.set('/', { file: join(staticDir, 'index.html'), type: TYPES['.html'], underDist: false });
  routes.set('/index.html', routes.get('/')!);
  routes.set('/style.css', { file: join(staticDir, 'style.css'), type: TYPES['.css'], underDist: false });
  routes.set('/build/core.wasm', { file: join(root, 'build', 'core.wasm'), type: TYPES['.wasm'], underDist: false });
  routes.set('/node_modules/@assemblyscript/loader/index.js', { file: join(root, 'node_modules', '@assemblyscript', 'loader', 'index.js'), type: TYPES['.js'], underDist: false });
  routes.set('/api/session', { file: null, type: TYPES['.json'], underDist: false });
  for (const f of appClosure(dist, join(dist, 'debugger', 'app', 'main.js'))) {
    const rel = f.slice(dist.length).split(sep).join('/');
    routes.set('/dist' + rel, { file: f, type: TYPES['.js'], underDist: true });
  }

  // the page's inline import map is allowed by its hash (CSP)
  const html = readFileSync(join(staticDir, 'index.html'), 'utf8');
  const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html)?.[1] ?? '';
  const mapHash = createHash('sha256').update(importMap).digest('base64');
  const csp = [
    "default-src 'none'",
    `script-src 'self' 'wasm-unsafe-eval' 'sha256-${mapHash}'`,
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');

  let allowedHosts = new Set<string>();
  const anyAddress = host === '0.0.0.0' || host === '::';

  const send = (res: ServerResponse, status: number, body: string, extra: Record<string, string> = {}) => {
    res.writeHead(status, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'content-security-policy': "default-src 'none'",
      ...extra,
    });
    res.end(body);
  };

  const hostOk = (h: string | undefined): boolean => {
    if (!h) return false;
    const v = h.toLowerCase();
    if (allowedHosts.has(v)) return true;
    if (!anyAddress) return false;
    // bound to every interface: IP literals only (a rebinding attack needs a DNS name)
    const m = /^\[([0-9a-f:.]+)\]:(\d+)$/.exec(v) ?? /^([0-9.]+):(\d+)$/.exec(v);
    return !!m && isIP(m[1]) !== 0 && Number(m[2]) === port;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const raw = req.url ?? '';
    if (raw.length > MAX_URL_LENGTH) return send(res, 414, 'URI too long\n');
    if (!hostOk(req.headers.host)) return send(res, 403, 'forbidden: unexpected Host header\n');
    if (req.method !== 'GET') return send(res, 405, 'method not allowed\n', { allow: 'GET' });
    const len = req.headers['content-length'];
    if ((len !== undefined && len !== '0') || req.headers['transfer-encoding'] !== undefined) return send(res, 413, 'a GET has no body\n');
    // the path: strict checks before and after percent-decoding
    const q = raw.indexOf('?');
    const rawPath = q >= 0 ? raw.slice(0, q) : raw;
    if (!rawPath.startsWith('/') || rawPath.includes('\\') || rawPath.includes('\0')) return send(res, 400, 'bad request\n');
    let path: string;
    try {
      path = decodeURIComponent(rawPath);
    } catch {
      return send(res, 400, 'bad request: malformed percent-encoding\n');
    }
    if (/%2f|%5c|%00/i.test(rawPath) || path.includes('\\') || path.includes('\0')) return send(res, 400, 'bad request\n');
    const segs = path.split('/');
    if (segs.some((s) => s === '..' || s === '.') || rawPath.split('/').some((s) => s === '..' || s === '.')) {
      return send(res, 400, 'bad request: dot segments\n');
    }
    const route = routes.get(path);
    if (!route) return send(res, 404, 'not found\n');
    const headers: Record<string, string> = {
      'content-type': route.type,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'content-security-policy': csp,
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-resource-policy': 'same-origin',
    };
    if (route.file === null) {
      const body = Buffer.from(sessionJson);
      res.writeHead(200, { ...headers, 'content-length': String(body.length) });
      res.end(body);
      return;
    }
    let body: Buffer;
    try {
      if (route.underDist) {
        const real = realpathSync(route.file);
        if (!real.startsWith(dist + sep)) return send(res, 404, 'not found\n');
      }
      if (!statSync(route.file).isFile()) return send(res, 404, 'not found\n');
      body = await readFile(route.file);
    } catch {
      return send(res, 404, 'not found\n');
    }
    res.writeHead(200, { ...headers, 'content-length': String(body.length) });
    res.end(body);
  };

  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES, requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, 'internal error\n');
      else res.destroy();
    });
  });
  // no request bodies are read: a client that sends one anyway is cut off after the reply
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    else socket.destroy();
  });

  let port = wantPort;
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(wantPort, host, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const addr = server.address();
  port = typeof addr === 'object' && addr ? addr.port : wantPort;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  allowedHosts = new Set([`${urlHost}:${port}`.toLowerCase()]);
  // a loopback address may also be named `localhost` (which no one else can resolve for us)
  if (isLoopback(host)) allowedHosts.add(`localhost:${port}`);
  if (host === 'localhost') {
    allowedHosts.add(`127.0.0.1:${port}`);
    allowedHosts.add(`[::1]:${port}`);
  }
  return {
    server,
    host,
    port,
    url: `http://${urlHost}:${port}/`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections?.();
        server.close(() => r());
      }),
  };
}
