// Streams, MEM ports and the error record.
//
// A value on an eastward stream keeps w = cycle - position*HOP constant along its flight; on a
// westward stream w = cycle + position*HOP. Each stream keeps a ring of RING slots keyed by w:
// a write at (position, cycle) fills slot w and records the writer's position; a read at
// (position, cycle) finds slot w and checks that the writer is at or upstream of the reader.
// Reads and writes are O(1) and idle cycles cost nothing. One flight may carry several values in
// segments: a writer further along the stream replaces the value from its position on, as a
// slice overwriting a stream register does (up to STREAM_WRITERS per flight).
import {
  S, NSTREAMS, RING_MASK, HOP, LANES, CHECKED, FUNCTIONAL, STATE, STREAM_META, STREAM_DATA, STREAM_STATS,
  PORTS, MEM_PORTS,
} from './layout';
import { ST_ERR_CODE, ST_ERR_QUEUE, ST_ERR_PC, ST_ERR_STREAM, ST_ERR_A, ST_ERR_B, ST_ERR_CYCLE, ST_STOP_REASON, STREAM_META_BYTES, STREAM_WRITERS } from './map.generated';
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

/** The flight key of stream s at position pos on cycle c. */
@inline export function flightKey(s: i32, pos: i32, c: i64): i64 {
  return s < S ? c - <i64>(pos * HOP) : c + <i64>(pos * HOP);
}

@inline function entryIndex(s: i32, w: i64, k: i32): usize {
  return (<usize>s * <usize>(RING_MASK + 1) + <usize>(<i32>w & RING_MASK)) * <usize>STREAM_WRITERS + <usize>k;
}

@inline export function entryMeta(s: i32, w: i64, k: i32): usize {
  return STREAM_META + entryIndex(s, w, k) * STREAM_META_BYTES;
}

@inline export function entryData(s: i32, w: i64, k: i32): usize {
  return STREAM_DATA + entryIndex(s, w, k) * <usize>LANES;
}

/** Pointer to the payload that stream s holds at (curPos, curCycle): the value of the nearest
 * writer of this flight at or upstream of the reader (a writer further down the stream replaces
 * the value from its own position on). Checked mode reports a read that finds none. Returns 0 in
 * timing-only mode. */
export function readStream(s: i32): usize {
  const w = flightKey(s, curPos, curCycle);
  const east = s < S;
  let best = -1;
  let bestPos = 0;
  let downstream = -1;
  // a flight's writers always fill a prefix of its entries (claims take the first entry not of
  // this flight), so the scan stops at the first entry of another flight
  for (let k = 0; k < STREAM_WRITERS; k++) {
    const m = entryMeta(s, w, k);
    if (load<i64>(m) != w) break;
    const p = <i32>load<i16>(m + 8);
    if (east ? p <= curPos : p >= curPos) {
      if (best < 0 || (east ? p > bestPos : p < bestPos)) {
        best = k;
        bestPos = p;
      }
    } else if (downstream < 0) downstream = p;
  }
  if (best < 0) {
    if (CHECKED) raise(ERR_STREAM_EMPTY, s, downstream, 0);
    best = 0;
  }
  return FUNCTIONAL ? entryData(s, w, best) : 0;
}

/** Claims an entry of stream s's flight for a value the current instruction puts on it at
 * curPos on cycle `at`; returns the payload pointer to fill (0 in timing-only mode). Two writes
 * of one flight at one position collide; writers at different positions are segments. */
export function writeStream(s: i32, at: i64): usize {
  const w = flightKey(s, curPos, at);
  let free = -1;
  for (let k = 0; k < STREAM_WRITERS; k++) {
    const m = entryMeta(s, w, k);
    if (load<i64>(m) != w) {
      free = k;
      break;
    } else if (<i32>load<i16>(m + 8) == curPos) {
      if (CHECKED) raise(ERR_STREAM_COLLISION, s, curPos, <i32>load<i16>(m + 10));
      free = k; // unchecked: the later write wins
      break;
    }
  }
  if (free < 0) {
    // more segments on one flight than the emulator keeps: always an error (never silently wrong)
    raise(ERR_STREAM_COLLISION, s, -1, STREAM_WRITERS);
    free = 0;
  }
  const m = entryMeta(s, w, free);
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
  return FUNCTIONAL ? entryData(s, w, free) : 0;
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
  const slots = <usize>NSTREAMS * <usize>(RING_MASK + 1) * <usize>STREAM_WRITERS;
  for (let i: usize = 0; i < slots; i++) {
    const m = STREAM_META + i * STREAM_META_BYTES;
    store<i64>(m, i64.MIN_VALUE);
    store<i64>(m + 8, 0);
  }
  memory.fill(STREAM_STATS, 0, <usize>NSTREAMS * 8);
}
