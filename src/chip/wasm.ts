// Instantiates the core. The one place that knows how: through @assemblyscript/loader (the design
// card's choice); swapping to generated bindings would change only this file.
import * as loader from '@assemblyscript/loader';

export interface CoreExports {
  memory: WebAssembly.Memory;
  init(): number;
  reset(): void;
  clearSram(): void;
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
}

/** Compiles once per bytes object and instantiates a fresh core (its own memory) each call. */
const compiled = new WeakMap<object, Promise<WebAssembly.Module>>();

export async function instantiateCore(wasm: Uint8Array | WebAssembly.Module): Promise<CoreExports> {
  let mod: WebAssembly.Module;
  if (wasm instanceof WebAssembly.Module) mod = wasm;
  else {
    let p = compiled.get(wasm);
    if (!p) {
      p = WebAssembly.compile(wasm as BufferSource);
      compiled.set(wasm, p);
    }
    mod = await p;
  }
  const inst = await loader.instantiate<Record<string, unknown>>(mod, {});
  return inst.exports as unknown as CoreExports;
}
