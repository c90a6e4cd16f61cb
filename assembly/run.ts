// The instruction control: every queue issues in order on exact cycles. The loop jumps straight
// to the next cycle on which any queue issues, executes every queue issuing then (in queue order,
// which cannot change results: every functional delay is >= 1), and stops with a reason.
import {
  NQUEUES, PROGRAM, STATE, QSTATE, TRACE, TRACE_CAP,
} from './layout';
import {
  QUEUE_DESC_OFFSET, QUEUE_DESC_BYTES, QD_UNIT, QD_POSITION, QD_UNIT_INDEX, QD_PROG_START, QD_PROG_LEN, QD_CONNECTED,
  QSTATE_BYTES, QS_PC, QS_STATUS, QS_NEXT, QS_REP_LEFT, QS_REP_D, QS_REP_IDX, QS_REP_PC, QS_BUSY, QS_ISSUED,
  QSTATUS_RUNNING, QSTATUS_PARKED, QSTATUS_HALTED,
  ST_CYCLE, ST_STOP_REASON, ST_RUNNING, ST_LAST_NOTIFY, ST_LAST_HALT, ST_ERR_CODE, ST_BP_HIT, ST_TRACE_COUNT, ST_ISSUED,
  UNIT_MEM, UNIT_VXM, UNIT_MXM, UNIT_SXM, UNIT_C2C,
} from './map.generated';
import {
  OP_NOP, OP_REPEAT, OP_SYNC, OP_NOTIFY, OP_HALT, OP_READ, OP_WRITE, OP_GATHER, OP_SCATTER, OP_IW, OP_MM, OP_SEND, OP_RECV,
  STOP_HALT, STOP_BREAKPOINT, STOP_CYCLE_LIMIT, STOP_ERROR, ERR_QUEUE_OVERRUN, ERR_DEADLOCK, ERR_BAD_OPERAND,
} from './isa.generated';
import { setContext, raise, failed, clearFailure, watchHit, setWatching } from './streams';
import { memRead, memWrite, memGather, memScatter } from './mem';
import { vxmExec } from './vxm';
import { mxmInstall, mxmMultiply } from './mxm';
import { sxmExec } from './sxm';
import { c2cSend, c2cRecv } from './c2c';
import { anyBreakpoints, nextCycleBreakpoint, cycleBreakpointIndex, bpBeforeIssue } from './breakpoints';
import { BUF_B, ACTIVE } from './layout';

/** The cycle whose breakpoints were reported last; they do not fire again when resuming there. */
let resumeCycle: i64 = -1;

export function setResumeCycle(c: i64): void {
  resumeCycle = c;
}

@inline function desc(q: i32, field: i32): i32 {
  return load<i32>(QUEUE_DESC_OFFSET + <usize>q * QUEUE_DESC_BYTES + (<usize>field << 2));
}

@inline function qs(q: i32): usize {
  return QSTATE + <usize>q * QSTATE_BYTES;
}

@inline function instr(q: i32, pc: i32): usize {
  return PROGRAM + (<usize>(desc(q, QD_PROG_START) + pc) << 4);
}

/** Cycles one issue occupies the queue; mirrors issueCycles() in src/isa/table.ts (tested). */
export function issueCycles(op: i32, dt: i32, a: i32): i32 {
  if (op == OP_NOP) return a;
  if (op == OP_REPEAT || op == OP_SYNC || op == OP_HALT) return 0;
  if (op == OP_MM && dt != 0) return 2;
  return 1;
}

function unitOf(op: i32): i32 {
  if (op >= 16 && op < 32) return UNIT_MEM;
  if (op >= 32 && op < 64) return UNIT_VXM;
  if (op >= 64 && op < 80) return UNIT_MXM;
  if (op >= 80 && op < 96) return UNIT_SXM;
  if (op >= 96 && op < 112) return UNIT_C2C;
  return 0;
}

/** Executes the unit instruction at `p` for queue q; rep scales address steps and IW rows. */
function execUnit(q: i32, p: usize, rep: i32): void {
  const op = <i32>load<u8>(p);
  const dt = <i32>load<u8>(p + 1);
  const dst = <i32>load<u8>(p + 2);
  const sa = <i32>load<u8>(p + 3);
  const sb = <i32>load<u8>(p + 4);
  const width = <i32>load<u8>(p + 5);
  const flags = <i32>load<u8>(p + 6);
  const aux = <i32>load<u8>(p + 7);
  const a = load<i32>(p + 8);
  const b = load<i32>(p + 12);
  const unit = desc(q, QD_UNIT);
  const idx = desc(q, QD_UNIT_INDEX);
  if (unitOf(op) != unit) { raise(ERR_BAD_OPERAND, -1, op, unit); return; }
  switch (op) {
    case OP_READ: memRead(idx, a + rep * b, dst, width); break;
    case OP_WRITE: memWrite(idx, a + rep * b, sa, width); break;
    case OP_GATHER: memGather(idx, a, sa, dst, width, BUF_B); break;
    case OP_SCATTER: memScatter(idx, a, sb, sa, width, BUF_B); break;
    case OP_IW: mxmInstall(idx, dt, a + rep * width, sa, width); break;
    case OP_MM: mxmMultiply(idx, dt, sa, dst, (flags & 1) != 0); break;
    case OP_SEND: c2cSend(idx, desc(q, QD_CONNECTED) != 0, sa, width); break;
    case OP_RECV: c2cRecv(idx, dst, width); break;
    default:
      if (unit == UNIT_VXM) vxmExec(idx, op, dt, dst, sa, sb, flags, aux, b);
      else if (unit == UNIT_SXM) sxmExec(op, dt, dst, sa, sb, a, b);
      else raise(ERR_BAD_OPERAND, -1, op, 0);
  }
}

function trace(q: i32, pc: i32, c: i64): void {
  if (TRACE_CAP == 0) return;
  const n = load<i64>(STATE + ST_TRACE_COUNT);
  const e = TRACE + <usize>(n % <i64>TRACE_CAP) * 16;
  store<i64>(e, c);
  store<i32>(e + 8, q);
  store<i32>(e + 12, pc);
  store<i64>(STATE + ST_TRACE_COUNT, n + 1);
}

function countIssue(s: usize, busy: i32): void {
  store<i64>(s + QS_ISSUED, load<i64>(s + QS_ISSUED) + 1);
  store<i64>(s + QS_BUSY, load<i64>(s + QS_BUSY) + <i64>busy);
  store<i64>(STATE + ST_ISSUED, load<i64>(STATE + ST_ISSUED) + 1);
}

/** The pc of the instruction queue q issues next (the repeated one while repeating). */
function pendingPc(q: i32): i32 {
  const s = qs(q);
  return load<i32>(s + QS_REP_LEFT) > 0 ? load<i32>(s + QS_REP_PC) : load<i32>(s + QS_PC);
}

function execQueue(q: i32, c: i64): void {
  const s = qs(q);
  const pos = desc(q, QD_POSITION);
  const repLeft = load<i32>(s + QS_REP_LEFT);
  if (repLeft > 0) {
    const rpc = load<i32>(s + QS_REP_PC);
    const p = instr(q, rpc);
    const rep = load<i32>(s + QS_REP_IDX) + 1;
    store<i32>(s + QS_REP_IDX, rep);
    setContext(q, rpc, pos, c);
    trace(q, rpc, c);
    const occ = issueCycles(<i32>load<u8>(p), <i32>load<u8>(p + 1), load<i32>(p + 8));
    countIssue(s, occ);
    execUnit(q, p, rep);
    store<i32>(s + QS_REP_LEFT, repLeft - 1);
    store<i64>(s + QS_NEXT, c + <i64>(repLeft > 1 ? load<i32>(s + QS_REP_D) : occ));
    return;
  }
  const pc = load<i32>(s + QS_PC);
  setContext(q, pc, pos, c);
  if (pc >= desc(q, QD_PROG_LEN)) { raise(ERR_QUEUE_OVERRUN, -1, pc, 0); return; }
  const p = instr(q, pc);
  const op = <i32>load<u8>(p);
  trace(q, pc, c);
  switch (op) {
    case OP_NOP: {
      const n = load<i32>(p + 8);
      if (n < 1) { raise(ERR_BAD_OPERAND, -1, n, 0); return; }
      countIssue(s, 0);
      store<i32>(s + QS_PC, pc + 1);
      store<i64>(s + QS_NEXT, c + <i64>n);
      return;
    }
    case OP_REPEAT:
      // a REPEAT is consumed right after the instruction it repeats; reaching it here means
      // it follows nothing repeatable
      raise(ERR_BAD_OPERAND, -1, op, 0);
      return;
    case OP_SYNC: {
      countIssue(s, 0);
      store<i32>(s + QS_PC, pc + 1);
      if (load<i64>(STATE + ST_LAST_NOTIFY) == c) {
        store<i64>(s + QS_NEXT, c + 1);
      } else {
        store<i32>(s + QS_STATUS, QSTATUS_PARKED);
        store<i64>(s + QS_NEXT, i64.MAX_VALUE);
      }
      return;
    }
    case OP_NOTIFY: {
      countIssue(s, 0);
      store<i32>(s + QS_PC, pc + 1);
      store<i64>(STATE + ST_LAST_NOTIFY, c);
      for (let o = 0; o < NQUEUES; o++) {
        const so = qs(o);
        if (load<i32>(so + QS_STATUS) == QSTATUS_PARKED) {
          store<i32>(so + QS_STATUS, QSTATUS_RUNNING);
          store<i64>(so + QS_NEXT, c + 1);
        }
      }
      store<i64>(s + QS_NEXT, c + 1);
      return;
    }
    case OP_HALT: {
      countIssue(s, 0);
      store<i32>(s + QS_STATUS, QSTATUS_HALTED);
      store<i64>(s + QS_NEXT, i64.MAX_VALUE);
      store<i32>(STATE + ST_RUNNING, load<i32>(STATE + ST_RUNNING) - 1);
      if (c > load<i64>(STATE + ST_LAST_HALT)) store<i64>(STATE + ST_LAST_HALT, c);
      return;
    }
    default: {
      const occ = issueCycles(op, <i32>load<u8>(p + 1), load<i32>(p + 8));
      countIssue(s, occ);
      execUnit(q, p, 0);
      let next = pc + 1;
      // a following REPEAT n, d schedules n more issues of this instruction, d cycles apart
      if (next < desc(q, QD_PROG_LEN)) {
        const r = instr(q, next);
        if (<i32>load<u8>(r) == OP_REPEAT) {
          const n = load<i32>(r + 8);
          const d = load<i32>(r + 12);
          if (n < 1 || d < 1) { setContext(q, next, pos, c); raise(ERR_BAD_OPERAND, -1, n, d); return; }
          store<i32>(s + QS_REP_LEFT, n);
          store<i32>(s + QS_REP_D, d);
          store<i32>(s + QS_REP_IDX, 0);
          store<i32>(s + QS_REP_PC, pc);
          store<i32>(s + QS_PC, next + 1);
          store<i64>(s + QS_NEXT, c + <i64>d);
          return;
        }
      }
      store<i32>(s + QS_PC, next);
      store<i64>(s + QS_NEXT, c + <i64>occ);
    }
  }
}

/** Puts every queue at the start of its program. */
export function resetQueues(): void {
  let running = 0;
  for (let q = 0; q < NQUEUES; q++) {
    const s = qs(q);
    memory.fill(s, 0, QSTATE_BYTES);
    if (desc(q, QD_PROG_LEN) > 0) {
      store<i32>(s + QS_STATUS, QSTATUS_RUNNING);
      running++;
    } else {
      store<i32>(s + QS_STATUS, 0);
      store<i64>(s + QS_NEXT, i64.MAX_VALUE);
    }
  }
  store<i32>(STATE + ST_RUNNING, running);
}

function stop(reason: i32, c: i64): i32 {
  store<i64>(STATE + ST_CYCLE, c);
  store<i32>(STATE + ST_STOP_REASON, reason);
  return reason;
}

/** The earliest next issue among running queues (i64.MAX_VALUE if none). */
function scanNext(): i64 {
  let next = i64.MAX_VALUE;
  for (let q = 0; q < NQUEUES; q++) {
    const s = qs(q);
    if (load<i32>(s + QS_STATUS) == QSTATUS_RUNNING) {
      const n = load<i64>(s + QS_NEXT);
      if (n < next) next = n;
    }
  }
  return next;
}

/** Lists the running queues in ACTIVE (ascending); returns how many. */
function listActive(): i32 {
  let n = 0;
  for (let q = 0; q < NQUEUES; q++) {
    if (load<i32>(qs(q) + QS_STATUS) == QSTATUS_RUNNING) {
      store<i32>(ACTIVE + (<usize>n << 2), q);
      n++;
    }
  }
  return n;
}

function firstParked(): i32 {
  for (let q = 0; q < NQUEUES; q++) if (load<i32>(qs(q) + QS_STATUS) == QSTATUS_PARKED) return q;
  return -1;
}

/** Runs until cycle `limit` (exclusive), a halt, a breakpoint or an error. One pass over the
 * queues per issuing cycle both executes the queues due and finds the next cycle to jump to. */
export function runUntil(limit: i64): i32 {
  if (load<i32>(STATE + ST_ERR_CODE) != 0) return STOP_ERROR;
  clearFailure();
  store<i32>(STATE + ST_BP_HIT, -1);
  let c = load<i64>(STATE + ST_CYCLE);
  const bps = anyBreakpoints();
  setWatching(bps);
  let next = scanNext();
  // the pass visits only the running queues, in queue order; the list is made again after a
  // pass in which a queue stopped running (HALT, SYNC) or started again (NOTIFY)
  let active = listActive();
  while (true) {
    if (next == i64.MAX_VALUE) {
      const parked = firstParked();
      if (parked >= 0) {
        setContext(parked, load<i32>(qs(parked) + QS_PC) - 1, desc(parked, QD_POSITION), c);
        raise(ERR_DEADLOCK, -1, 0, 0);
        return stop(STOP_ERROR, c);
      }
      return stop(STOP_HALT, c);
    }
    if (next < c) next = c; // cannot happen; keeps time monotonic
    if (bps) {
      const from = resumeCycle == c ? c : c - 1;
      const cb = nextCycleBreakpoint(from);
      if (cb <= next && cb < limit) {
        store<i32>(STATE + ST_BP_HIT, cycleBreakpointIndex(cb));
        resumeCycle = cb;
        return stop(STOP_BREAKPOINT, cb);
      }
    }
    if (next >= limit) return stop(STOP_CYCLE_LIMIT, limit > c ? limit : c);
    c = next;
    if (bps && resumeCycle != c) {
      for (let q = 0; q < NQUEUES; q++) {
        const s = qs(q);
        if (load<i32>(s + QS_STATUS) != QSTATUS_RUNNING || load<i64>(s + QS_NEXT) != c) continue;
        const pc = pendingPc(q);
        if (pc >= desc(q, QD_PROG_LEN)) continue;
        const hit = bpBeforeIssue(q, pc, <i32>load<u8>(instr(q, pc)));
        if (hit >= 0) {
          store<i32>(STATE + ST_BP_HIT, hit);
          resumeCycle = c;
          return stop(STOP_BREAKPOINT, c);
        }
      }
    }
    const notifiesBefore = load<i64>(STATE + ST_LAST_NOTIFY);
    next = i64.MAX_VALUE;
    let changed = false;
    for (let i = 0; i < active; i++) {
      const q = load<i32>(ACTIVE + (<usize>i << 2));
      const s = qs(q);
      let n = load<i64>(s + QS_NEXT);
      if (n == c) {
        execQueue(q, c);
        if (failed) return stop(STOP_ERROR, c);
        if (load<i32>(s + QS_STATUS) != QSTATUS_RUNNING) {
          changed = true;
          continue;
        }
        n = load<i64>(s + QS_NEXT);
      }
      if (n < next) next = n;
    }
    // a NOTIFY restarts queues the pass may already have passed: they issue on c + 1
    if (load<i64>(STATE + ST_LAST_NOTIFY) != notifiesBefore) {
      changed = true;
      if (c + 1 < next) next = c + 1;
    }
    if (changed) active = listActive();
    c++;
    if (watchHit >= 0) {
      store<i32>(STATE + ST_BP_HIT, watchHit);
      resumeCycle = c;
      return stop(STOP_BREAKPOINT, c);
    }
  }
  return 0;
}
