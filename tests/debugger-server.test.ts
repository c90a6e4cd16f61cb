// The debugger's web server refuses everything but its own assets: traversal in any spelling,
// other methods, a foreign Host header (DNS rebinding), unknown paths, over-long URLs, bodies.
// A refused request never gets file contents back.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../src/debugger/server.js';
import { buildSession } from '../src/debugger/session.js';

let srv: RunningServer;
const root = new URL('..', import.meta.url).pathname;
const pkg = readFileSync(new URL('../package.json', import.meta.url), 'utf8');

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function get(path: string, opts: { method?: string; host?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const host = opts.host ?? `127.0.0.1:${srv.port}`;
    const req = request({
      host: '127.0.0.1', port: srv.port, path, method: opts.method ?? 'GET', setHost: host !== '',
      headers: { ...(host ? { host } : {}), ...(opts.headers ?? {}) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.body) req.write(opts.body);
    req.end();
  });
}

function expectNoFile(r: Reply): void {
  const text = r.body.toString('utf8');
  expect(text).not.toContain('"devDependencies"');
  expect(text).not.toContain('root:x:0:0');
  expect(text).not.toContain('import ');
  expect(text.length).toBeLessThan(200);
}

beforeAll(async () => {
  process.chdir(root);
  srv = await startServer({ session: buildSession('programs/kernels/vector-add-fp32.sfa'), port: 0 });
});

afterAll(async () => {
  await srv?.close();
});

describe('debugger server', () => {
  it('listens on 127.0.0.1 and prints a local URL', () => {
    expect(srv.host).toBe('127.0.0.1');
    expect(srv.url).toBe(`http://127.0.0.1:${srv.port}/`);
    expect(srv.port).toBeGreaterThan(0);
  });

  it('serves the page, its modules, the core, the loader and the session', async () => {
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.headers['content-security-policy']).toMatch(/default-src 'none'/);
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.body.toString()).toContain('importmap');
    expect((await get('/style.css')).status).toBe(200);
    const app = await get('/dist/debugger/app/main.js');
    expect(app.status).toBe(200);
    expect(app.headers['content-type']).toMatch(/javascript/);
    expect((await get('/dist/chip/core.js')).status).toBe(200);
    const wasm = await get('/build/core.wasm');
    expect(wasm.status).toBe(200);
    expect(wasm.headers['content-type']).toBe('application/wasm');
    expect(wasm.body.subarray(0, 4)).toEqual(Buffer.from([0, 0x61, 0x73, 0x6d]));
    expect((await get('/node_modules/@assemblyscript/loader/index.js')).status).toBe(200);
    const s = await get('/api/session');
    expect(s.status).toBe(200);
    const j = JSON.parse(s.body.toString());
    expect(j.chip.name).toBe('tsp-v1');
    expect(j.chips).toBe(1);
    expect(j.programs).toHaveLength(1);
    expect(j.source).toContain('vector-add-fp32');
    expect(j.references).toBeNull();
    // the query string is ignored
    expect((await get('/?x=1')).status).toBe(200);
    // localhost names the loopback address too
    expect((await get('/', { host: `localhost:${srv.port}` })).status).toBe(200);
  });

  it('serves only the modules the page imports, not the rest of dist/', async () => {
    for (const p of ['/dist/cli/main.js', '/dist/debugger/server.js', '/dist/chip/preset.js', '/dist/chip/core.js.map']) {
      const r = await get(p);
      expect(r.status, p).toBe(404);
      expectNoFile(r);
    }
  });

  it('refuses path traversal in every spelling (400)', async () => {
    const attempts = [
      '/../package.json', '/%2e%2e/', '/%2e%2e/package.json', '/dist/../../etc/passwd', '/dist/%2e%2e/%2e%2e/package.json',
      '/dist/..%2f..%2fpackage.json', '/dist/%2E%2E/cli/main.js', '/./package.json', '/dist/./debugger/app/main.js',
      '/dist\\..\\package.json', '/dist/debugger/app/main.js%00', '/%', '/%zz', '/%c0%ae%c0%ae/package.json', '/..',
      '/dist%2fdebugger%2fapp%2fmain.js',
    ];
    for (const p of attempts) {
      const r = await get(p);
      expect(r.status, p).toBe(400);
      expectNoFile(r);
    }
  });

  it('answers 404 for unknown paths, with no directory listings', async () => {
    for (const p of ['/package.json', '/etc/passwd', '//etc/passwd', '/dist/', '/dist', '/build/', '/build/core.debug.wasm', '/node_modules/', '/src/debugger/server.ts', '/src/debugger/static/index.html', '/api/', '/api/session/x', '/favicon.ico', '/index.htm']) {
      const r = await get(p);
      expect(r.status, p).toBe(404);
      expectNoFile(r);
    }
  });

  it('allows only GET (405)', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS']) {
      const r = await get('/', { method });
      expect(r.status, method).toBe(405);
      expect(r.headers.allow).toBe('GET');
      expectNoFile(r);
    }
    const post = await get('/api/session', { method: 'POST', body: 'x=1', headers: { 'content-type': 'text/plain' } });
    expect(post.status).toBe(405);
  });

  it('refuses a GET with a body (413)', async () => {
    const r = await get('/', { body: 'hello', headers: { 'content-length': '5' } });
    expect(r.status).toBe(413);
    expectNoFile(r);
  });

  it('refuses a Host header that is not the bound address (403)', async () => {
    for (const host of ['evil.example', `evil.example:${srv.port}`, `127.0.0.1:${srv.port + 1}`, `127.0.0.1.nip.io:${srv.port}`, `192.168.1.5:${srv.port}`]) {
      const r = await get('/api/session', { host });
      expect(r.status, host).toBe(403);
      expectNoFile(r);
    }
    // no Host at all: HTTP/1.1 requires one (Node answers 400 before the handler)
    const none = await get('/api/session', { host: '' });
    expect([400, 403]).toContain(none.status);
    expectNoFile(none);
  });

  it('refuses over-long URLs (414)', async () => {
    const r = await get('/' + 'a'.repeat(5000));
    expect(r.status).toBe(414);
    expectNoFile(r);
    const r2 = await get('/dist/' + '../'.repeat(1000) + 'etc/passwd');
    expect(r2.status).toBe(414);
    expectNoFile(r2);
    // beyond the 16 KiB header cap Node's parser refuses it before the handler
    const r3 = await get('/' + 'a'.repeat(20_000));
    expect([414, 431]).toContain(r3.status);
    expectNoFile(r3);
  });

  it('never answers with package.json or files outside the project', async () => {
    expect(pkg).toContain('"devDependencies"');
    const all = await Promise.all(['/../../../../etc/passwd', '/..%2f..%2f..%2fetc%2fpasswd', '/%2e%2e%2f%2e%2e%2fpackage.json'].map((p) => get(p)));
    for (const r of all) {
      expect(r.status).toBeGreaterThanOrEqual(400);
      expectNoFile(r);
    }
  });
});

describe('sramflow debug', () => {
  const bin = join(root, 'bin/sramflow.js');

  function startDebug(args: string[]): Promise<{ child: ReturnType<typeof spawn>; url: string; port: number; err: () => string }> {
    const child = spawn(process.execPath, [bin, 'debug', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no URL printed: ${out} ${err}`)), 30_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d;
        const m = /^sramflow debug: (http:\/\/[0-9.]+:(\d+)\/)$/m.exec(out);
        if (m) {
          clearTimeout(t);
          resolve({ child, url: m[1], port: Number(m[2]), err: () => err });
        }
      });
    });
  }

  function status(port: number, host: string): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path: '/', headers: { host } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject).end();
    });
  }

  function interrupt(child: ReturnType<typeof spawn>): Promise<number | null> {
    return new Promise((resolve) => {
      child.on('exit', (c) => resolve(c));
      child.kill('SIGINT');
    });
  }

  it('prints its URL, serves the page and stops on Ctrl-C', async () => {
    const d = await startDebug(['programs/kernels/vector-add-fp32.sfa', '--port', '0']);
    expect(d.url).toBe(`http://127.0.0.1:${d.port}/`);
    expect(await status(d.port, `127.0.0.1:${d.port}`)).toBe(200);
    expect(await status(d.port, `attacker.example:${d.port}`)).toBe(403);
    expect(await interrupt(d.child)).toBe(0);
    expect(d.err()).toBe('');
  }, 60_000);

  it('--host 0.0.0.0 warns, and still refuses names other than IP literals in Host', async () => {
    const d = await startDebug(['programs/kernels/vector-add-fp32.sfa', '--port', '0', '--host', '0.0.0.0']);
    await expect.poll(() => d.err()).toMatch(/^sramflow debug: warning: listening on 0\.0\.0\.0/);
    expect(await status(d.port, `127.0.0.1:${d.port}`)).toBe(200);
    expect(await status(d.port, `rebind.attacker.example:${d.port}`)).toBe(403);
    expect(await interrupt(d.child)).toBe(0);
  }, 60_000);

  it('warns when told to listen beyond the loopback', () => {
    // an address this machine does not have: the warning is not reached, the error is one line
    const r = spawnSync(process.execPath, [bin, 'debug', 'programs/kernels/vector-add-fp32.sfa', '--port', '0', '--host', '203.0.113.7'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^sramflow: cannot listen on 203\.0\.113\.7/);
  });

  it('answers bad input with one line and exit code 2', () => {
    for (const args of [['debug'], ['debug', 'no-such.sfa'], ['debug', 'programs/kernels/vector-add-fp32.sfa', '--port', 'x'], ['debug', 'programs/kernels/vector-add-fp32.sfa', '--port', '70000'], ['debug', 'programs/kernels/vector-add-fp32.sfa', '--bogus']]) {
      const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
      expect(r.status, args.join(' ')).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^sramflow: /);
    }
  });
});
