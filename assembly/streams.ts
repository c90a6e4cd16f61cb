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
  S, NSTREAMS, RING_MASK, RING_BITS, HOP, LANES, CHECKED, FUNCTIONAL, STATE, STREAM_META, STREAM_DATA, STREAM_STATS,
  PORTS, MEM_PORTS, SRAM, ZEROS,
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

// Entry i of the stream tables (meta at STREAM_META + i * STREAM_META_BYTES, payload at
// STREAM_DATA + i * LANES): the first writer of each slot (stream s, slot w & (RING-1)) at
// i = s * RING + slot, compact, since most flights have one writer; the other writers (segments)
// after all the first ones, STREAM_WRITERS - 1 per slot. The first entry counts its flight's
// writers (meta + 20), so a read looks past it only when the flight has segments.
@inline function slotOf(s: i32, w: i64): usize {
  return (<usize>s << <usize>RING_BITS) + <usize>(<i32>w & RING_MASK);
}

@inline function entryOf(slot: usize, k: i32): usize {
  return k == 0 ? slot : (<usize>NSTREAMS << <usize>RING_BITS) + slot * <usize>(STREAM_WRITERS - 1) + <usize>(k - 1);
}

@inline export function entryMeta(s: i32, w: i64, k: i32): usize {
  return STREAM_META + entryOf(slotOf(s, w), k) * STREAM_META_BYTES;
}

@inline export function entryData(s: i32, w: i64, k: i32): usize {
  return STREAM_DATA + entryOf(slotOf(s, w), k) * <usize>LANES;
}

/** Pointer to the payload that stream s holds at (curPos, curCycle): the value of the nearest
 * writer of this flight at or upstream of the reader (a writer further down the stream replaces
 * the value from its own position on). Checked mode reports a read that finds none. Returns 0 in
 * timing-only mode. */
export function readStream(s: i32): usize {
  const w = flightKey(s, curPos, curCycle);
  const east = s < S;
  const slot = slotOf(s, w);
  const m0 = STREAM_META + slot * STREAM_META_BYTES;
  let best: usize = 0;
  let found = false;
  let downstream = -1;
  if (load<i64>(m0) == w) {
    const p0 = <i32>load<i16>(m0 + 8);
    const n = load<i32>(m0 + 20);
    if (n <= 1) {
      // one writer: the common case
      if (east ? p0 <= curPos : p0 >= curPos) {
        best = slot;
        found = true;
      } else downstream = p0;
    } else {
      let bestPos = 0;
      for (let k = 0; k < n; k++) {
        const i = entryOf(slot, k);
        const p = <i32>load<i16>(STREAM_META + i * STREAM_META_BYTES + 8);
        if (east ? p <= curPos : p >= curPos) {
          if (!found || (east ? p > bestPos : p < bestPos)) {
            best = i;
            bestPos = p;
            found = true;
          }
        } else if (downstream < 0) downstream = p;
      }
    }
  }
  if (!found) {
    if (CHECKED) raise(ERR_STREAM_EMPTY, s, downstream, 0);
    if (!FUNCTIONAL) return 0;
    // unchecked: what the slot's first entry holds if it was written since the reset, else
    // zeros (its payload is left over from before the reset, not state)
    if (load<i64>(m0) == i64.MIN_VALUE) return ZEROS;
    best = slot;
  }
  if (!FUNCTIONAL) return 0;
  // a READ from a slice no instruction writes leaves the SRAM vector's index + 1 instead of a copy
  const ref = load<u32>(STREAM_META + best * STREAM_META_BYTES + 16);
  lastRef = ref;
  return ref != 0 ? SRAM + <usize>(ref - 1) * <usize>LANES : STREAM_DATA + best * <usize>LANES;
}

/** The reference the last readStream found (0: a payload of its own). */
export let lastRef: u32 = 0;

/** readGroup, and each stream's reference (SRAM vector index + 1, or 0) into refs[0..g-1]. */
export function readGroupRefs(tab: usize, refs: usize, s: i32, g: i32): void {
  for (let k = 0; k < g; k++) {
    store<usize>(tab + (<usize>k << 2), readStream(s + k));
    store<u32>(refs + (<usize>k << 2), lastRef);
  }
}

/** The meta entry the last writeStream claimed (for a READ to put a reference in). */
export let lastMeta: usize = 0;

/** Claims an entry of stream s's flight for a value the current instruction puts on it at
 * curPos on cycle `at`; returns the payload pointer to fill (0 in timing-only mode). Two writes
 * of one flight at one position collide; writers at different positions are segments. */
export function writeStream(s: i32, at: i64): usize {
  const w = flightKey(s, curPos, at);
  const slot = slotOf(s, w);
  const m0 = STREAM_META + slot * STREAM_META_BYTES;
  let i = slot;
  if (load<i64>(m0) != w) {
    // the flight's first writer
    store<i64>(m0, w);
    store<i32>(m0 + 20, 1);
  } else {
    const n = load<i32>(m0 + 20);
    let k = 0;
    for (; k < n; k++) {
      const mk = STREAM_META + entryOf(slot, k) * STREAM_META_BYTES;
      if (<i32>load<i16>(mk + 8) == curPos) {
        if (CHECKED) raise(ERR_STREAM_COLLISION, s, curPos, <i32>load<i16>(mk + 10));
        break; // unchecked: the later write wins
      }
    }
    if (k == n) {
      if (n < STREAM_WRITERS) store<i32>(m0 + 20, n + 1);
      else {
        // more segments on one flight than the emulator keeps: always an error (never silently wrong)
        raise(ERR_STREAM_COLLISION, s, -1, STREAM_WRITERS);
        k = 0;
      }
    }
    i = entryOf(slot, k);
    store<i64>(STREAM_META + i * STREAM_META_BYTES, w);
  }
  const m = STREAM_META + i * STREAM_META_BYTES;
  store<i16>(m + 8, <i16>curPos);
  store<i16>(m + 10, <i16>curQueue);
  store<i32>(m + 12, curPc);
  store<u32>(m + 16, 0);
  lastMeta = m;
  if (watching) {
    const h = bpStreamHit(s);
    if (h >= 0) setWatchHit(h);
  }
  const st = STREAM_STATS + (<usize>s << 3);
  store<i64>(st, load<i64>(st) + <i64>LANES);
  return FUNCTIONAL ? STREAM_DATA + i * <usize>LANES : 0;
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

/** Empties every stream slot (reset): an entry with the empty tag holds no value, and the rest
 * of it (and its payload) is not state (the hash skips it). */
export function clearStreams(): void {
  const slots = <usize>NSTREAMS * <usize>(RING_MASK + 1) * <usize>STREAM_WRITERS;
  for (let i: usize = 0; i < slots; i++) store<i64>(STREAM_META + i * STREAM_META_BYTES, i64.MIN_VALUE);
  memory.fill(STREAM_STATS, 0, <usize>NSTREAMS * 8);
}
