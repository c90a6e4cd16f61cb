// The debugger server against generated hostile requests (issue 8, item 3): random paths built
// from traversal pieces, encodings and junk, random methods, Host headers and bodies. Every
// request gets an answer (no hang, no crash), a refused one gets no file contents, and only the
// server's own assets are ever served.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import { connect } from 'node:net';
import { startServer, type RunningServer } from '../../src/debugger/server.js';
import { buildSession } from '../../src/debugger/session.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const root = new URL('../..', import.meta.url).pathname;
let srv: RunningServer;

/** Sends raw bytes and returns the status line's code (0 if the server closed without one). */
function raw(text: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const sock = connect(srv.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('the server did not answer within 5 s'));
    }, 5000);
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(all);
      resolve({ status: m ? Number(m[1]) : 0, body: all.slice(all.indexOf('\r\n\r\n') + 4) });
    });
    sock.write(text, 'latin1');
    sock.end();
  });
}

beforeAll(async () => {
  process.chdir(root);
  srv = await startServer({ session: buildSession('programs/kernels/vector-add-fp32.sfa'), port: 0 });
});

afterAll(async () => {
  await srv?.close();
});

const piece = fc.oneof(
  fc.constantFrom('..', '.', '%2e%2e', '%2E%2E', '..%2f', '%2f', '%5c', '..\\', '//', 'dist', 'build', 'src', 'etc', 'passwd', 'package.json',
    'node_modules', 'core.wasm', 'index.html', 'api', 'session', '%00', '%', '%zz', '~', 'app', 'debugger', 'main.js', '.git', 'config'),
  fc.string({ maxLength: 12 }),
);
const path = fc.array(piece, { maxLength: 8 }).map((p) => '/' + p.join('/'));
const method = fc.constantFrom('GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE', 'CONNECT', 'get', 'G\u00c9T');
const host = fc.oneof(fc.constant('LOCAL'), fc.constant('evil.example'), fc.constant(''), fc.string({ maxLength: 20 }));

describe('fuzz: debugger server', () => {
  it('answers every generated request, and serves nothing outside its assets', async () => {
    await fc.assert(
      fc.asyncProperty(method, path, host, fc.string({ maxLength: 64 }), async (m, p, h, body) => {
        const hostHeader = h === 'LOCAL' ? `127.0.0.1:${srv.port}` : h.replace(/[\r\n]/g, '');
        const safePath = p.replace(/[\r\n ]/g, '%20');
        const req = `${m} ${safePath} HTTP/1.1\r\nHost: ${hostHeader}\r\nContent-Length: ${Buffer.byteLength(body, 'latin1')}\r\nConnection: close\r\n\r\n${body}`;
        const r = await raw(req);
        // an answer with a status, or a closed connection for a request that is not HTTP at all
        expect(r.status === 0 || (r.status >= 200 && r.status < 600)).toBe(true);
        expect(r.body).not.toContain('"devDependencies"');
        expect(r.body).not.toContain('root:x:0:0');
        expect(r.body).not.toContain('[core]');
        if (r.status === 200) expect(m).toBe('GET');
      }),
      { numRuns: RUNS, seed: 20240611 },
    );
  });
});
