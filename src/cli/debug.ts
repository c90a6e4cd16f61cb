// `sramflow debug <program>`: serves the browser debugger for a program on a local port and runs
// until Ctrl-C. The page runs the same Wasm core (checked) in the browser; see docs/debugger.md.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SfError } from '../util/errors.js';
import { parseArgs } from './args.js';
import { buildSession } from '../debugger/session.js';
import { startServer, DEFAULT_PORT } from '../debugger/server.js';
import { coreWasmPath } from '../chip/wasm-node.js';

interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

export async function cmdDebug(argv: string[], io: Io, signal?: AbortSignal): Promise<number> {
  const { positional, flags } = parseArgs(argv, {
    chip: { type: 'string' },
    system: { type: 'string' },
    ref: { type: 'string' },
    port: { type: 'int', min: 0, max: 65535 },
    host: { type: 'string' },
  }, 'debug');
  if (positional.length !== 1) throw new SfError('usage: sramflow debug <program> [--chip P] [--system S] [--ref FILE] [--port N] [--host H]');
  if (!existsSync(coreWasmPath())) throw new SfError('the Wasm core is not built; run `npm install` (or `npm run build`)', coreWasmPath());
  const app = fileURLToPath(new URL('../debugger/app/main.js', import.meta.url));
  if (!existsSync(app)) throw new SfError('the debugger is not built; run `npm run build`', app);
  const host = (flags.host as string | undefined) ?? '127.0.0.1';
  if (!/^[A-Za-z0-9.:-]+$/.test(host)) throw new SfError(`option --host: "${host}" is not a host name or address`);
  const session = buildSession(positional[0], {
    chip: flags.chip as string | undefined,
    system: flags.system as string | undefined,
    ref: flags.ref as string | undefined,
  });
  let srv;
  try {
    srv = await startServer({ session, host, port: (flags.port as number | undefined) ?? DEFAULT_PORT });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new SfError(`port ${flags.port ?? DEFAULT_PORT} is in use; pick another with --port N (0: any free port)`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EACCES') throw new SfError(`cannot listen on ${host}:${flags.port ?? DEFAULT_PORT} (${code})`);
    throw e;
  }
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '::1') {
    io.err(`sramflow debug: warning: listening on ${host}, not only this machine's loopback: anyone who can reach it can read the program (the debugger has no login)`);
  }
  io.out(`sramflow debug: ${srv.url}`);
  io.out(`  ${session.file} on ${session.chip.name}${session.chips > 1 ? ` x ${session.chips} (${session.system?.name})` : ''}; press Ctrl-C to stop`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    signal?.addEventListener('abort', stop, { once: true });
  });
  await srv.close();
  return 0;
}
