// THE CHIP: the public surface of the core. It knows nothing of files, text, models or GPUs:
// the host writes a CONFIG block and queue descriptors (src/chip/memory-map.ts), calls init(),
// places a program and an SRAM image, then calls run() and reads state through views over
// the regions. 64-bit counters cross to the host as f64.
import {
  initLayout, regionOffsetOf, regionSizeOf, STATE, QSTATE, END, PLANES, TRACE, TRACE_CAP,
  PORTS, MEM_SLICES, MEM_VECTORS, VXM, ALUS, ALU_BYTES, SUPERLANES, LINKS, LINKS_N, LINK_BYTES, STREAM_META, STREAM_STATS,
  STREAM_DATA, SRAM, NSTREAMS, RING_MASK, LANES, FUNCTIONAL, NQUEUES, PROGRAM, SLICE_RO, WRITTEN,
} from './layout';
import {
  ST_CYCLE, ST_STOP_REASON, ST_LAST_NOTIFY, ST_LAST_HALT, ST_ERR_STREAM, ST_BP_HIT, STREAM_META_BYTES, STREAM_WRITERS,
  QUEUE_DESC_OFFSET, QUEUE_DESC_BYTES, QD_UNIT, QD_UNIT_INDEX, QD_PROG_START, QD_PROG_LEN, UNIT_MEM, UNIT_C2C,
  QSTATE_BYTES, QS_STATUS, QS_NEXT, QSTATUS_RUNNING, QSTATUS_PARKED,
} from './map.generated';
import { OP_WRITE, OP_SCATTER } from './isa.generated';
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
  // stream entries are emptied; their payloads are left as they are (not state: the hash and
  // every reader look at an entry only while its tag says it holds a value)
  clearStreams();
  markReadOnlySlices();
  memory.fill(PORTS, 0xff, <usize>MEM_SLICES * 32);
  resetPlanes(PLANES);
  memory.fill(VXM, 0, <usize>ALUS * ALU_BYTES);
  memory.fill(LINKS, 0, <usize>LINKS_N * LINK_BYTES);
  if (TRACE_CAP > 0) memory.fill(TRACE, 0, <usize>TRACE_CAP * 16);
  clearFailure();
  setResumeCycle(-1);
}

/** Marks the MEM slices no instruction of the loaded program writes (WRITE, SCATTER): their SRAM
 * is constant during a run, so READs from them put references on the streams (mem.ts). */
function markReadOnlySlices(): void {
  memory.fill(SLICE_RO, 1, <usize>MEM_SLICES);
  for (let q = 0; q < NQUEUES; q++) {
    const d = QUEUE_DESC_OFFSET + <usize>q * QUEUE_DESC_BYTES;
    if (load<i32>(d + (<usize>QD_UNIT << 2)) != UNIT_MEM) continue;
    const start = load<i32>(d + (<usize>QD_PROG_START << 2));
    const len = load<i32>(d + (<usize>QD_PROG_LEN << 2));
    const slice = load<i32>(d + (<usize>QD_UNIT_INDEX << 2));
    if (slice < 0 || slice >= MEM_SLICES) continue;
    for (let pc = 0; pc < len; pc++) {
      const op = <i32>load<u8>(PROGRAM + (<usize>(start + pc) << 4));
      if (op == OP_WRITE || op == OP_SCATTER) {
        store<u8>(SLICE_RO + <usize>slice, 0);
        break;
      }
    }
  }
}

/** Clears SRAM (before the host places a new image). */
export function clearSram(): void {
  if (!ready) return;
  memory.fill(regionOffsetOf(11), 0, regionSizeOf(11));
  memory.fill(WRITTEN, 0, <usize>MEM_SLICES * 8);
}

/** Address of the per-slice table of SRAM vectors written since the last clear: i32 [lo, hi)
 * per MEM slice (lo >= hi: none). The host reads it to know what a reset must restore. */
export function writtenRanges(): u32 {
  return <u32>WRITTEN;
}

/** Zeroes the vectors WRITE/SCATTER changed since the last clear and forgets them. */
export function clearWritten(): void {
  if (!ready || !FUNCTIONAL) return;
  const L = <usize>LANES;
  for (let s = 0; s < MEM_SLICES; s++) {
    const r = WRITTEN + (<usize>s << 3);
    const lo = load<i32>(r);
    const hi = load<i32>(r + 4);
    if (lo < hi) memory.fill(SRAM + (<usize>s * <usize>MEM_VECTORS + <usize>lo) * L, 0, <usize>(hi - lo) * L);
    store<i64>(r, 0);
  }
}

/** Zeroes vectors [lo, hi) of MEM slice s (the host clearing what it placed). */
export function clearVectors(s: i32, lo: i32, hi: i32): void {
  if (!ready || !FUNCTIONAL || s < 0 || s >= MEM_SLICES || lo < 0 || hi > MEM_VECTORS || lo >= hi) return;
  const L = <usize>LANES;
  memory.fill(SRAM + (<usize>s * <usize>MEM_VECTORS + <usize>lo) * L, 0, <usize>(hi - lo) * L);
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

/** After the host restores a snapshot: breakpoints may fire on the restored cycle again. Any
 * SRAM vector may differ from the placed image now: the next clear restores all of it. */
export function restored(): void {
  setResumeCycle(-1);
  clearFailure();
  for (let s = 0; s < MEM_SLICES; s++) {
    store<i32>(WRITTEN + (<usize>s << 3), 0);
    store<i32>(WRITTEN + (<usize>s << 3) + 4, MEM_VECTORS);
  }
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
  h = hashSpan(h, QSTATE, STREAM_META);
  // stream entries: only those holding a value (a set tag), with their payload (or reference)
  const entries = <usize>NSTREAMS * <usize>(RING_MASK + 1) * <usize>STREAM_WRITERS;
  const L = <usize>LANES;
  for (let i: usize = 0; i < entries; i++) {
    const m = STREAM_META + i * STREAM_META_BYTES;
    if (load<i64>(m) == i64.MIN_VALUE) continue;
    h = mix(h, <u64>i);
    h = hashSpan(h, m, m + STREAM_META_BYTES);
    if (FUNCTIONAL && load<u32>(m + 16) == 0) h = hashSpan(h, STREAM_DATA + i * L, STREAM_DATA + (i + 1) * L);
  }
  h = hashSpan(h, STREAM_STATS, STREAM_DATA);
  h = hashSpan(h, SRAM, END);
  h ^= h >> 31;
  hashHi = <u32>(h >> 32);
  return <u32>h;
}

export function stateHashHigh(): u32 {
  return hashHi;
}

/** A lower bound on the cycle of this chip's next SEND (the system runner's lookahead): the next
 * issue of each running C2C queue, the current cycle for a parked one (a NOTIFY may wake it),
 * never for halted ones (Infinity if no C2C queue can send again). */
export function nextSendBound(): f64 {
  let b = i64.MAX_VALUE;
  const c = load<i64>(STATE + ST_CYCLE);
  for (let q = 0; q < NQUEUES; q++) {
    const d = QUEUE_DESC_OFFSET + <usize>q * QUEUE_DESC_BYTES;
    if (load<i32>(d + (<usize>QD_UNIT << 2)) != UNIT_C2C) continue;
    const st = QSTATE + <usize>q * QSTATE_BYTES;
    const status = load<i32>(st + QS_STATUS);
    let n = i64.MAX_VALUE;
    if (status == QSTATUS_RUNNING) n = load<i64>(st + QS_NEXT);
    else if (status == QSTATUS_PARKED) n = c;
    if (n < b) b = n;
  }
  return b == i64.MAX_VALUE ? Infinity : <f64>b;
}

export function issueCyclesOf(op: i32, dt: i32, a: i32): i32 {
  return issueCycles(op, dt, a);
}

