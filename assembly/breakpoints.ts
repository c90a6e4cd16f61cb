// Breakpoints, checked inside the run loop. The host writes them into the CONTROL region:
// an i32 count, then entries of four i32 (kind, a, b, c); see BREAKPOINTS in src/isa/table.ts.
import { CONTROL_OFFSET } from './map.generated';
import { BP_CYCLE, BP_QUEUE_PC, BP_OPCODE, BP_STREAM_WRITE, BP_SRAM_WRITE } from './isa.generated';

@inline function count(): i32 {
  return load<i32>(CONTROL_OFFSET);
}

@inline function entry(i: i32): usize {
  return CONTROL_OFFSET + 16 + (<usize>i << 4);
}

export function anyBreakpoints(): bool {
  return count() > 0;
}

/** The smallest CYCLE breakpoint strictly after `after`, or i64.MAX_VALUE. */
export function nextCycleBreakpoint(after: i64): i64 {
  let best = i64.MAX_VALUE;
  const n = count();
  for (let i = 0; i < n; i++) {
    const e = entry(i);
    if (load<i32>(e) == BP_CYCLE) {
      const c = <i64>load<i32>(e + 4);
      if (c > after && c < best) best = c;
    }
  }
  return best;
}

export function cycleBreakpointIndex(c: i64): i32 {
  const n = count();
  for (let i = 0; i < n; i++) {
    const e = entry(i);
    if (load<i32>(e) == BP_CYCLE && <i64>load<i32>(e + 4) == c) return i;
  }
  return -1;
}

/** A QUEUE_PC or OPCODE breakpoint matching the instruction about to issue, or -1. */
export function bpBeforeIssue(q: i32, pc: i32, op: i32): i32 {
  const n = count();
  for (let i = 0; i < n; i++) {
    const e = entry(i);
    const k = load<i32>(e);
    if (k == BP_QUEUE_PC && load<i32>(e + 4) == q && load<i32>(e + 8) == pc) return i;
    if (k == BP_OPCODE && load<i32>(e + 4) == op) return i;
  }
  return -1;
}

export function bpStreamHit(s: i32): i32 {
  const n = count();
  for (let i = 0; i < n; i++) {
    const e = entry(i);
    if (load<i32>(e) == BP_STREAM_WRITE && load<i32>(e + 4) == s) return i;
  }
  return -1;
}

export function bpSramHit(slice: i32, addr: i32, width: i32): i32 {
  const n = count();
  for (let i = 0; i < n; i++) {
    const e = entry(i);
    if (load<i32>(e) != BP_SRAM_WRITE || load<i32>(e + 4) != slice) continue;
    const lo = load<i32>(e + 8);
    const hi = lo + load<i32>(e + 12);
    if (addr < hi && addr + width > lo) return i;
  }
  return -1;
}
