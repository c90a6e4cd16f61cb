// C2C links. SEND serialises a message (1..4 vectors) onto this queue's link: the link is busy for
// width x C2C_VECTOR cycles and the message reaches the peer's receive buffer C2C_LATENCY cycles
// after that. The core only appends to its outbox; the host (src/system) carries outboxes to the
// peers' inboxes between lockstep windows no longer than the latency, so no message can be due
// inside the window it was sent in. RECV takes the oldest message once it has arrived.
import {
  LINKS, LINK_BYTES, LINK_ENTRY, LINK_INBOX, C2C_LATENCY, C2C_VECTOR, C2C_BUFFER, D_C2C_RECV, LANES, PTRS,
  FUNCTIONAL, CHECKED,
} from './layout';
import { curCycle, raise, readGroup, writeGroup, groupValid } from './streams';
import { LK_BUSY_UNTIL, LK_OUT_HEAD, LK_OUT_COUNT, LK_IN_HEAD, LK_IN_COUNT, LK_SENT, LK_RECEIVED, LINK_HEADER_BYTES, LINK_MAX_WIDTH } from './map.generated';
import { ERR_LINK_UNCONNECTED, ERR_LINK_BUSY, ERR_RECV_EMPTY, ERR_LINK_OVERFLOW, ERR_BAD_OPERAND } from './isa.generated';

@inline function link(l: i32): usize {
  return LINKS + <usize>l * LINK_BYTES;
}

export function c2cSend(l: i32, connected: bool, src: i32, width: i32): void {
  if (width < 1 || width > LINK_MAX_WIDTH || !groupValid(src, width)) { raise(ERR_BAD_OPERAND, src, width, 0); return; }
  if (!connected) { raise(ERR_LINK_UNCONNECTED, -1, l, 0); return; }
  const h = link(l);
  const busy = load<i64>(h + LK_BUSY_UNTIL);
  if (CHECKED && busy > curCycle) { raise(ERR_LINK_BUSY, -1, <i32>(busy - curCycle), l); return; }
  const out = load<i32>(h + LK_OUT_COUNT);
  if (out >= C2C_BUFFER) { raise(ERR_LINK_OVERFLOW, -1, out, C2C_BUFFER); return; }
  readGroup(PTRS, src, width);
  const done = curCycle + <i64>(width * C2C_VECTOR);
  store<i64>(h + LK_BUSY_UNTIL, done);
  const slot = (load<i32>(h + LK_OUT_HEAD) + out) % C2C_BUFFER;
  const e = h + LINK_HEADER_BYTES + <usize>slot * LINK_ENTRY;
  store<i64>(e, done + <i64>C2C_LATENCY);
  store<i32>(e + 8, width);
  store<i32>(h + LK_OUT_COUNT, out + 1);
  store<i64>(h + LK_SENT, load<i64>(h + LK_SENT) + <i64>width);
  if (!FUNCTIONAL) return;
  for (let k = 0; k < width; k++) {
    memory.copy(e + 16 + <usize>k * <usize>LANES, load<usize>(PTRS + (<usize>k << 2)), <usize>LANES);
  }
}

export function c2cRecv(l: i32, dst: i32, width: i32): void {
  if (width < 1 || width > LINK_MAX_WIDTH || !groupValid(dst, width)) { raise(ERR_BAD_OPERAND, dst, width, 0); return; }
  const h = link(l);
  const n = load<i32>(h + LK_IN_COUNT);
  const head = load<i32>(h + LK_IN_HEAD);
  const e = h + LINK_INBOX + <usize>head * LINK_ENTRY;
  if (n == 0) { raise(ERR_RECV_EMPTY, -1, l, -1); return; }
  const arrival = load<i64>(e);
  if (arrival > curCycle) { raise(ERR_RECV_EMPTY, -1, l, <i32>(arrival - curCycle)); return; }
  if (load<i32>(e + 8) != width) { raise(ERR_BAD_OPERAND, -1, width, load<i32>(e + 8)); return; }
  writeGroup(PTRS, dst, width, curCycle + D_C2C_RECV);
  store<i32>(h + LK_IN_HEAD, (head + 1) % C2C_BUFFER);
  store<i32>(h + LK_IN_COUNT, n - 1);
  store<i64>(h + LK_RECEIVED, load<i64>(h + LK_RECEIVED) + <i64>width);
  if (!FUNCTIONAL) return;
  for (let k = 0; k < width; k++) {
    memory.copy(load<usize>(PTRS + (<usize>k << 2)), e + 16 + <usize>k * <usize>LANES, <usize>LANES);
  }
}
