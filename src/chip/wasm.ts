// Instantiates the core. The one place that knows how: through @assemblyscript/loader (the design
// card's choice); swapping to generated bindings would change only this file.
import * as loader from '@assemblyscript/loader';

export interface CoreExports {
  memory: WebAssembly.Memory;
  init(): number;
  reset(): void;
  clearSram(): void;
  writtenRanges(): number;
  clearWritten(): void;
  clearVectors(slice: number, lo: number, hi: number): void;
  run(limit: number): number;
  cycle(): number;
  stopReason(): number;
  lastHalt(): number;
  staggerCycles(): number;
  regionOffset(region: number): number;
  regionSize(region: number): number;
  stateStart(): number;
  stateEnd(): number;
  restored(): void;
  stateHash(): number;
  stateHashHigh(): number;
  issueCyclesOf(op: number, dt: number, a: number): number;
  nextSendBound(): number;
}

/** Compiles once per bytes object and instantiates a fresh core (its own memory) each call. */
const compiled = new WeakMap<object, Promise<WebAssembly.Module>>();

/** The compiled core for these bytes, compiled once: the same Module (and the optimised code V8
 * tiers its hot functions up to, shared by every instance and worker thread) on every call. */
export function compileCore(wasm: Uint8Array): Promise<WebAssembly.Module> {
  let p = compiled.get(wasm);
  if (!p) {
    p = WebAssembly.compile(wasm as BufferSource);
    compiled.set(wasm, p);
  }
  return p;
}

export async function instantiateCore(wasm: Uint8Array | WebAssembly.Module): Promise<CoreExports> {
  const mod = wasm instanceof WebAssembly.Module ? wasm : await compileCore(wasm);
  const inst = await loader.instantiate<Record<string, unknown>>(mod, {});
  return inst.exports as unknown as CoreExports;
}
