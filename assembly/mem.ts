// MEM slices: SRAM <-> streams. A slice holds MEM_VECTORS vectors of LANES bytes. Reads use
// their ports on the issue cycle and put data on the streams D_MEM_READ cycles later; writes
// sample the streams on the issue cycle and write the array (using ports) one cycle later.
import { LANES, MEM_VECTORS, SRAM, PTRS, FUNCTIONAL, D_MEM_READ, SRAM_DIRTY, TRACK_DIRTY, SLICE_RO, WRITTEN } from './layout';
import { curCycle, raise, readGroup, writeGroup, writeStream, usePorts, groupValid, setWatchHit, watching, lastMeta } from './streams';
import { loadI } from './numerics';
import { ERR_SRAM_RANGE, ERR_BAD_OPERAND, DT_INT16 } from './isa.generated';
import { bpSramHit } from './breakpoints';

function dirty(slice: i32, addr: i32, width: i32): void {
  // the range the next reset must clear
  const r = WRITTEN + (<usize>slice << 3);
  const lo = load<i32>(r);
  const hi = load<i32>(r + 4);
  if (lo >= hi) {
    store<i32>(r, addr);
    store<i32>(r + 4, addr + width);
  } else {
    if (addr < lo) store<i32>(r, addr);
    if (addr + width > hi) store<i32>(r + 4, addr + width);
  }
  if (!TRACK_DIRTY) return;
  memory.fill(SRAM_DIRTY + <usize>slice * <usize>MEM_VECTORS + <usize>addr, 1, <usize>width);
}

@inline function vec(slice: i32, addr: i32): usize {
  return SRAM + (<usize>slice * <usize>MEM_VECTORS + <usize>addr) * <usize>LANES;
}

function rangeOk(addr: i32, width: i32): bool {
  // in 64 bits: addr + width wraps in i32 for addresses near 2^31
  if (addr < 0 || <i64>addr + <i64>width > <i64>MEM_VECTORS) {
    raise(ERR_SRAM_RANGE, -1, addr, width);
    return false;
  }
  return true;
}

function watch(slice: i32, addr: i32, width: i32): void {
  if (!watching) return;
  const bp = bpSramHit(slice, addr, width);
  if (bp >= 0) setWatchHit(bp);
}

export function memRead(slice: i32, addr: i32, dst: i32, width: i32): void {
  if (!groupValid(dst, width)) { raise(ERR_BAD_OPERAND, dst, width, 0); return; }
  if (!rangeOk(addr, width)) return;
  usePorts(slice, curCycle, width);
  const at = curCycle + D_MEM_READ;
  if (!FUNCTIONAL) {
    for (let k = 0; k < width; k++) writeStream(dst + k, at);
    return;
  }
  // a slice no instruction writes holds the same bytes for the whole run: the stream carries a
  // reference to the SRAM vector (readStream resolves it), not a copy
  const ro = load<u8>(SLICE_RO + <usize>slice) != 0;
  for (let k = 0; k < width; k++) {
    const p = writeStream(dst + k, at);
    // the reference is the vector's index + 1 (not its address: the state must not depend on
    // where the layout put SRAM)
    if (ro) store<u32>(lastMeta + 16, <u32>(slice * MEM_VECTORS + addr + k + 1));
    else memory.copy(p, vec(slice, addr + k), <usize>LANES);
  }
}

export function memWrite(slice: i32, addr: i32, src: i32, width: i32): void {
  if (!groupValid(src, width)) { raise(ERR_BAD_OPERAND, src, width, 0); return; }
  if (!rangeOk(addr, width)) return;
  readGroup(PTRS, src, width);
  usePorts(slice, curCycle + 1, width);
  watch(slice, addr, width);
  if (!FUNCTIONAL) return;
  dirty(slice, addr, width);
  for (let k = 0; k < width; k++) {
    memory.copy(vec(slice, addr + k), load<usize>(PTRS + (<usize>k << 2)), <usize>LANES);
  }
}

/** Reads the int16 index group at stream idx into the i32 buffer `out` (LANES entries). */
function indices(idx: i32, out: usize): bool {
  if (!groupValid(idx, 2)) { raise(ERR_BAD_OPERAND, idx, 2, 0); return false; }
  const tab = PTRS + 32;
  readGroup(tab, idx, 2);
  if (!FUNCTIONAL) return true;
  for (let i = 0; i < LANES; i++) store<i32>(out + (<usize>i << 2), loadI(tab, DT_INT16, i));
  return true;
}

export function memGather(slice: i32, base: i32, idx: i32, dst: i32, width: i32, buf: usize): void {
  if (!groupValid(dst, width)) { raise(ERR_BAD_OPERAND, dst, width, 0); return; }
  if (!indices(idx, buf)) return;
  usePorts(slice, curCycle, width);
  writeGroup(PTRS, dst, width, curCycle + D_MEM_READ);
  if (!FUNCTIONAL) return;
  for (let i = 0; i < LANES; i++) {
    const a = base + load<i32>(buf + (<usize>i << 2)) * width;
    if (!rangeOk(a, width)) return;
    for (let k = 0; k < width; k++) {
      store<u8>(load<usize>(PTRS + (<usize>k << 2)) + <usize>i, load<u8>(vec(slice, a + k) + <usize>i));
    }
  }
}

export function memScatter(slice: i32, base: i32, idx: i32, src: i32, width: i32, buf: usize): void {
  if (!groupValid(src, width)) { raise(ERR_BAD_OPERAND, src, width, 0); return; }
  if (!indices(idx, buf)) return;
  readGroup(PTRS, src, width);
  usePorts(slice, curCycle + 1, width);
  if (!FUNCTIONAL) return;
  for (let i = 0; i < LANES; i++) {
    const a = base + load<i32>(buf + (<usize>i << 2)) * width;
    if (!rangeOk(a, width)) return;
    watch(slice, a, width);
    dirty(slice, a, width);
    for (let k = 0; k < width; k++) {
      store<u8>(vec(slice, a + k) + <usize>i, load<u8>(load<usize>(PTRS + (<usize>k << 2)) + <usize>i));
    }
  }
}

