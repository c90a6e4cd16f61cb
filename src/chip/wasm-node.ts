// Node-side location of the built core (npm install builds it into build/).
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SfError } from '../util/errors.js';

let cached: Uint8Array | null = null;

export function coreWasmPath(debug = false): string {
  return fileURLToPath(new URL(`../../build/${debug ? 'core.debug.wasm' : 'core.wasm'}`, import.meta.url));
}

export function loadCoreWasm(): Uint8Array {
  if (cached) return cached;
  const path = coreWasmPath();
  if (!existsSync(path)) throw new SfError('the Wasm core is not built; run `npm install` (or `npm run build`)', path);
  cached = new Uint8Array(readFileSync(path));
  return cached;
}
