// Streams, MEM ports and the error record.
//
// A value on an eastward stream keeps w = cycle - position*HOP constant along its flight; on a
// westward stream w = cycle + position*HOP. Each stream keeps a ring of RING slots keyed by w:
// a write at (position, cycle) fills slot w and records the writer's position; a read at
// (position, cycle) finds slot w and checks that the writer is at or upstream of the reader.
// Reads and writes are O(1) and idle cycles cost nothing.
import {
  S, NSTREAMS, RING_MASK, HOP, LANES, CHECKED, FUNCTIONAL, STATE, STREAM_META, STREAM_DATA, STREAM_STATS,
  PORTS, MEM_PORTS,
} from './layout';
import { ST_ERR_CODE, ST_ERR_QUEUE, ST_ERR_PC, ST_ERR_STREAM, ST_ERR_A, ST_ERR_B, ST_ERR_CYCLE, ST_STOP_REASON, STREAM_META_BYTES } from './map.generated';
import { bpStreamHit } from './breakpoints';
import { ERR_STREAM_EMPTY, ERR_STREAM_COLLISION, ERR_MEM_PORT, STOP_ERROR } from './isa.generated';

/** Context of the instruction being executed, for error records. */
export let curQueue: i32 = 0;
export let curPc: i32 = 0;
export let curPos: i32 = 0;
export let curCycle: i64 = 0;
export let failed: bool = false;
/** Set when an instruction wrote a stream or SRAM location a breakpoint watches. */
export let watchHit: i32 = -1;
/** True while breakpoints are set: writes are checked against STREAM_WRITE and SRAM_WRITE ones. */
export let watching: bool = false;

export function setWatching(on: bool): void {
  watching = on;
}

export function setContext(q: i32, pc: i32, pos: i32, cycle: i64): void {
  curQueue = q;
  curPc = pc;
  curPos = pos;
  curCycle = cycle;
}

export function clearFailure(): void {
  failed = false;
  watchHit = -1;
}

export function setWatchHit(i: i32): void {
  if (watchHit < 0) watchHit = i;
}

/** Records the first error; the run loop stops after the current instruction. */
export function raise(code: i32, stream: i32, a: i32, b: i32): void {
  if (failed) return;
  failed = true;
  store<i32>(STATE + ST_ERR_CODE, code);
  store<i32>(STATE + ST_ERR_QUEUE, curQueue);
  store<i32>(STATE + ST_ERR_PC, curPc);
  store<i32>(STATE + ST_ERR_STREAM, stream);
  store<i32>(STATE + ST_ERR_A, a);
  store<i32>(STATE + ST_ERR_B, b);
  store<i64>(STATE + ST_ERR_CYCLE, curCycle);
  store<i32>(STATE + ST_STOP_REASON, load<i32>(STATE + ST_STOP_REASON) | STOP_ERROR);
}

@inline export function isEast(s: i32): bool {
  return s < S;
}

/** The flight key of stream s at position pos on cycle c. */
@inline export function flightKey(s: i32, pos: i32, c: i64): i64 {
  return s < S ? c - <i64>(pos * HOP) : c + <i64>(pos * HOP);
}

@inline function slotIndex(s: i32, w: i64): usize {
  return <usize>s * <usize>(RING_MASK + 1) + <usize>(<i32>w & RING_MASK);
}

@inline export function slotMeta(s: i32, w: i64): usize {
  return STREAM_META + slotIndex(s, w) * STREAM_META_BYTES;
}

@inline export function slotData(s: i32, w: i64): usize {
  return STREAM_DATA + slotIndex(s, w) * <usize>LANES;
}

/** Pointer to the payload that stream s holds at (curPos, curCycle), after the checked-mode test
 * that a value is there. Returns 0 in timing-only mode. */
export function readStream(s: i32): usize {
  const w = flightKey(s, curPos, curCycle);
  if (CHECKED) {
    const m = slotMeta(s, w);
    const tag = load<i64>(m);
    const wpos = <i32>load<i16>(m + 8);
    const ok = tag == w && (s < S ? wpos <= curPos : wpos >= curPos);
    if (!ok) {
      // detail: a = writer position when the slot holds this flight (written downstream), else -1
      raise(ERR_STREAM_EMPTY, s, tag == w ? wpos : -1, 0);
    }
  }
  return FUNCTIONAL ? slotData(s, w) : 0;
}

/** Claims the slot of stream s for a value the current instruction puts on it at curPos on
 * cycle `at`; returns the payload pointer to fill (0 in timing-only mode). */
export function writeStream(s: i32, at: i64): usize {
  const w = flightKey(s, curPos, at);
  const m = slotMeta(s, w);
  if (CHECKED && load<i64>(m) == w) {
    raise(ERR_STREAM_COLLISION, s, <i32>load<i16>(m + 8), <i32>load<i16>(m + 10));
  }
  store<i64>(m, w);
  store<i16>(m + 8, <i16>curPos);
  store<i16>(m + 10, <i16>curQueue);
  store<i32>(m + 12, curPc);
  if (watching) {
    const h = bpStreamHit(s);
    if (h >= 0) setWatchHit(h);
  }
  const st = STREAM_STATS + (<usize>s << 3);
  store<i64>(st, load<i64>(st) + <i64>LANES);
  return FUNCTIONAL ? slotData(s, w) : 0;
}

/** Fills plane pointers tab[0..g-1] for reading the group starting at stream s. */
export function readGroup(tab: usize, s: i32, g: i32): void {
  for (let k = 0; k < g; k++) store<usize>(tab + (<usize>k << 2), readStream(s + k));
}

export function writeGroup(tab: usize, s: i32, g: i32, at: i64): void {
  for (let k = 0; k < g; k++) store<usize>(tab + (<usize>k << 2), writeStream(s + k, at));
}

/** True if streams s .. s+g-1 are one direction's valid streams. */
export function groupValid(s: i32, g: i32): bool {
  if (s < 0 || g < 1 || s + g > NSTREAMS) return false;
  return s < S ? s + g <= S : true;
}

/** Accounts n vector accesses to MEM slice `slice` on cycle c (ports are per cycle). */
export function usePorts(slice: i32, c: i64, n: i32): void {
  const e = PORTS + (<usize>slice * 2 + <usize>(<i32>c & 1)) * 16;
  let used = 0;
  if (load<i64>(e) == c) used = load<i32>(e + 8);
  used += n;
  store<i64>(e, c);
  store<i32>(e + 8, used);
  if (CHECKED && used > MEM_PORTS) raise(ERR_MEM_PORT, -1, used, MEM_PORTS);
}

/** Empties every stream slot and port record (reset). */
export function clearStreams(): void {
  const slots = <usize>NSTREAMS * <usize>(RING_MASK + 1);
  for (let i: usize = 0; i < slots; i++) {
    const m = STREAM_META + i * STREAM_META_BYTES;
    store<i64>(m, i64.MIN_VALUE);
    store<i64>(m + 8, 0);
  }
  memory.fill(STREAM_STATS, 0, <usize>NSTREAMS * 8);
}
