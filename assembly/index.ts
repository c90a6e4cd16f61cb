// THE CHIP: the public surface of the core. It knows nothing of files, text, models or GPUs:
// the host writes a CONFIG block and queue descriptors (src/chip/memory-map.ts), calls init(),
// places a program and an SRAM image, then calls run() and reads state through views over
// the regions. 64-bit counters cross to the host as f64.
import {
  initLayout, regionOffsetOf, regionSizeOf, STATE, QSTATE, END, PLANES, TRACE, TRACE_CAP,
  PORTS, MEM_SLICES, VXM, ALUS, ALU_BYTES, SUPERLANES, LINKS, LINKS_N, LINK_BYTES, STREAM_DATA, SRAM,
} from './layout';
import { ST_CYCLE, ST_STOP_REASON, ST_LAST_NOTIFY, ST_LAST_HALT, ST_ERR_STREAM, ST_BP_HIT } from './map.generated';
import { clearStreams, clearFailure } from './streams';
import { resetPlanes } from './mxm';
import { resetQueues, runUntil, setResumeCycle, issueCycles } from './run';

let ready = false;

/** Lays out memory from the CONFIG block. 0 on success; negative if the chip cannot be held. */
export function init(): i32 {
  const r = initLayout();
  ready = r == 0;
  return r;
}

/** Puts the machine in its power-on state with the loaded program; SRAM is left as placed. */
export function reset(): void {
  if (!ready) return;
  memory.fill(STATE, 0, QSTATE - STATE);
  store<i64>(STATE + ST_LAST_NOTIFY, -1);
  store<i64>(STATE + ST_LAST_HALT, -1);
  store<i32>(STATE + ST_ERR_STREAM, -1);
  store<i32>(STATE + ST_BP_HIT, -1);
  resetQueues();
  clearStreams();
  // stale payloads would make the state (and its hash) depend on what ran before
  memory.fill(STREAM_DATA, 0, SRAM - STREAM_DATA);
  memory.fill(PORTS, 0xff, <usize>MEM_SLICES * 32);
  resetPlanes(PLANES);
  memory.fill(VXM, 0, <usize>ALUS * ALU_BYTES);
  memory.fill(LINKS, 0, <usize>LINKS_N * LINK_BYTES);
  if (TRACE_CAP > 0) memory.fill(TRACE, 0, <usize>TRACE_CAP * 16);
  clearFailure();
  setResumeCycle(-1);
}

/** Clears SRAM (before the host places a new image). */
export function clearSram(): void {
  if (!ready) return;
  memory.fill(regionOffsetOf(11), 0, regionSizeOf(11));
}

/** Runs until the absolute cycle `limit` (exclusive), a halt, a breakpoint or an error;
 * returns the stop reason bitmask (STOP_* in src/isa/table.ts). */
export function run(limit: f64): i32 {
  if (!ready) return 8;
  const l: i64 = limit >= 9.0e18 ? i64.MAX_VALUE : <i64>limit;
  return runUntil(l);
}

export function cycle(): f64 {
  return <f64>load<i64>(STATE + ST_CYCLE);
}

export function stopReason(): i32 {
  return load<i32>(STATE + ST_STOP_REASON);
}

export function lastHalt(): f64 {
  return <f64>load<i64>(STATE + ST_LAST_HALT);
}

export function staggerCycles(): i32 {
  return SUPERLANES - 1;
}

export function regionOffset(region: i32): u32 {
  return <u32>regionOffsetOf(region);
}

export function regionSize(region: i32): u32 {
  return <u32>regionSizeOf(region);
}

/** Start and end of the mutable machine state (what a snapshot copies). */
export function stateStart(): u32 {
  return <u32>STATE;
}

export function stateEnd(): u32 {
  return <u32>END;
}

/** After the host restores a snapshot: breakpoints may fire on the restored cycle again. */
export function restored(): void {
  setResumeCycle(-1);
  clearFailure();
}

let hashHi: u32 = 0;

@inline function mix(h: u64, w: u64): u64 {
  h ^= w * 0x9E3779B97F4A7C15;
  h = rotl<u64>(h, 29);
  return h * 0xBF58476D1CE4E5B9;
}

function hashSpan(h: u64, from: usize, to: usize): u64 {
  let p = from;
  for (; p + 8 <= to; p += 8) h = mix(h, load<u64>(p));
  for (; p < to; p++) h = mix(h, <u64>load<u8>(p));
  return h;
}

/** A 64-bit hash of the machine state (the low half; stateHashHigh() gives the high half).
 * It leaves out what only the debugger sees: the stop reason, the breakpoint hit, the trace. */
export function stateHash(): u32 {
  let h: u64 = 0x243F6A8885A308D3;
  h = hashSpan(h, STATE + ST_CYCLE, STATE + ST_CYCLE + 8);
  h = hashSpan(h, STATE + 12, STATE + 64); // running .. error record
  h = hashSpan(h, STATE + 80, STATE + 88); // instructions issued
  h = hashSpan(h, QSTATE, END);
  h ^= h >> 31;
  hashHi = <u32>(h >> 32);
  return <u32>h;
}

export function stateHashHigh(): u32 {
  return hashHi;
}

export function issueCyclesOf(op: i32, dt: i32, a: i32): i32 {
  return issueCycles(op, dt, a);
}

