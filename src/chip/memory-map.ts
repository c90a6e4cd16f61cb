// The core's memory map: the one source of truth for where things live in the Wasm memory.
// The AssemblyScript constants (assembly/map.generated.ts) are generated from this file; the host
// (src/chip/core.ts) and the debugger read views over these regions.
//
// Fixed part, at MAP_BASE: CONFIG (written by the host before init), QUEUE_DESC (per queue),
// CONTROL (breakpoints). Everything after is laid out by the core's init() from the config and its
// offsets are read back with regionOffset(REGION.X) / regionSize(REGION.X).
// The mutable machine state is the contiguous span [STATE, SRAM end): a snapshot copies it, the
// state hash covers it, except stream entries that hold no value since the last reset (empty tag:
// their other bytes are left over and are not state).

export const MAP_BASE = 1 << 16; // below: AssemblyScript's static data (checked at init)

/** i32 slots of the CONFIG block. */
export const CONFIG = {
  lanes: 0,
  streamsPerDirection: 1,
  positions: 2,
  queues: 3,
  memSlices: 4,
  memVectorsPerSlice: 5,
  memPorts: 6,
  planes: 7,
  alus: 8,
  hopCycles: 9,
  dMemRead: 10,
  dVxmAlu: 11,
  dVxmLarge: 12,
  dMxm: 13,
  dSxm: 14,
  dSxmReduce: 15,
  mxmInstallRows: 16,
  maxInstructions: 17,
  superlanes: 18,
  traceCapacity: 19,
  /** 1: compute values (functional); 0: timing only (no SRAM or stream payloads). */
  functional: 20,
  /** 1: report the hazards marked "checked" in the ISA table. */
  checked: 21,
  /** 1: keep the SRAM_DIRTY map (for the debugger's incremental snapshots). */
  trackDirty: 27,
  c2cLinks: 22,
  c2cLatency: 23,
  c2cVectorCycles: 24,
  c2cBufferMessages: 25,
  dC2cRecv: 26,
} as const;
export const CONFIG_SLOTS = 64;
export const CONFIG_OFFSET = MAP_BASE;

/** Per-queue descriptor written by the host: i32 fields, QUEUE_DESC_BYTES apart. */
export const QUEUE_DESC = { unit: 0, position: 1, unitIndex: 2, progStart: 3, progLen: 4, connected: 5 } as const;
export const QUEUE_DESC_BYTES = 32;
export const MAX_QUEUES = 1024;
export const QUEUE_DESC_OFFSET = CONFIG_OFFSET + CONFIG_SLOTS * 4;

/** CONTROL: i32 breakpoint count, then MAX_BREAKPOINTS entries of four i32 (kind, a, b, c). */
export const MAX_BREAKPOINTS = 64;
export const CONTROL_OFFSET = QUEUE_DESC_OFFSET + MAX_QUEUES * QUEUE_DESC_BYTES;
export const CONTROL_BYTES = 16 + MAX_BREAKPOINTS * 16;

/** Regions laid out by init(), in this order. */
export const REGION = {
  PROGRAM: 0, // instructions, 16 bytes each
  SCRATCH: 1, // decode buffers (not state)
  TRACE: 2, // issue events: i64 cycle, i32 queue, i32 pc (16 bytes each), a ring
  STATE: 3, // scalars, see STATE
  QSTATE: 4, // per queue, see QSTATE
  STREAM_META: 5, // per stream slot, STREAM_WRITERS entries (placed by streamEntry): i64 tag (flight key w), i16 writer position, i16 writer queue, i32 writer pc, u32 payload reference (0: the payload is the entry's STREAM_DATA; else 1 + the index (slice * memVectorsPerSlice + address) of the SRAM vector a READ put on the stream, in a slice no instruction writes), i32 writers of the flight (first entry only)
  STREAM_STATS: 6, // per stream: i64 bytes written
  PORTS: 7, // per MEM slice, 2 entries: i64 cycle, i32 ports used, pad
  MXM: 8, // per plane: installed byte-plane rows lanes*lanes bytes (copies of rows that came from transient stream payloads), row records lanes*4 (i32, where each installed byte-plane row is read from: v >= 0 the SRAM vector of index v it was READ from, -1-q the copy in own row q), accumulators lanes*4, installed rows lanes bytes, PLANE meta
  VXM: 9, // per ALU: accumulator lanes*4 bytes, i32 dtype, pad
  STREAM_DATA: 10, // per stream slot, STREAM_WRITERS entries of lanes bytes (placed by streamEntry)
  SRAM: 11, // per MEM slice: memVectorsPerSlice * lanes bytes
  LINKS: 12, // per C2C link: LINK header, then the outbox and inbox rings (LINK_ENTRY each)
  SRAM_DIRTY: 13, // one byte per SRAM vector, set to 1 when a WRITE/SCATTER writes it; the host
  // clears it (debugger snapshots copy only dirty vectors). Not machine state: outside the hash.
} as const;
export const REGION_COUNT = 14;

/** Byte offsets of scalars in STATE. */
export const STATE = {
  cycle: 0, // i64: the next cycle to execute
  stopReason: 8, // i32 bitmask of STOP
  running: 12, // i32 queues still running (not halted)
  lastNotify: 16, // i64 cycle of the last NOTIFY (-1: none)
  lastHalt: 24, // i64 the latest cycle on which a queue halted
  errCode: 32, // i32
  errQueue: 36, // i32
  errPc: 40, // i32
  errStream: 44, // i32 (-1: none)
  errA: 48, // i32 detail
  errB: 52, // i32 detail
  errCycle: 56, // i64
  bpHit: 64, // i32 index of the breakpoint that stopped the run (-1: none)
  traceCount: 72, // i64 events written to TRACE (ring: index = count % capacity)
  issued: 80, // i64 instructions issued (including repeats)
  resumeCycle: 88, // i64 cycle whose before-issue breakpoints are skipped once (after stopping there)
} as const;
export const STATE_BYTES = 128;

/** Byte offsets in each queue's QSTATE record. */
export const QSTATE = {
  pc: 0, // i32 index of the next instruction within the queue's program
  status: 4, // i32 see QUEUE_STATUS
  next: 8, // i64 cycle of the next issue
  repLeft: 16, // i32 repetitions still to issue
  repD: 20, // i32 cycles between repetitions
  repIdx: 24, // i32 repetitions issued so far (scales MEM step, IW rows)
  repPc: 28, // i32 the instruction being repeated
  busy: 32, // i64 cycles the unit was occupied by this queue's work
  issued: 40, // i64 instructions issued by this queue
} as const;
export const QSTATE_BYTES = 48;
export const QUEUE_STATUS = { EMPTY: 0, RUNNING: 1, PARKED: 2, HALTED: 3 } as const;

/** Byte offsets in each MXM plane's meta record (after its weights, accumulators and row flags). */
export const PLANE = {
  dtype: 0, // i32 dtype of the installed weight set (-1: none)
  installed: 4, // i32 rows installed in the current weight set
  macs: 8, // i64 multiply-accumulates performed
} as const;
export const PLANE_META_BYTES = 16;

/** Byte offsets in each C2C link's header. The outbox holds messages sent and not yet taken by
 * the host; the inbox holds messages the host delivered (arrived, or arriving on their cycle). */
export const LINK = {
  busyUntil: 0, // i64 first cycle the link can start serialising another message
  outHead: 8, // i32 ring index of the oldest outbox message
  outCount: 12, // i32
  inHead: 16, // i32
  inCount: 20, // i32
  sent: 24, // i64 vectors sent
  received: 32, // i64 vectors received
} as const;
export const LINK_HEADER_BYTES = 64;
/** A message: i64 arrival cycle, i32 width (vectors), i32 pad, then 4 x lanes payload bytes
 * (functional cores only). */
export const LINK_ENTRY_HEADER_BYTES = 16;
export const LINK_MAX_WIDTH = 4;

/** Byte layout of one link's record (mirrors initLayout in assembly/layout.ts). */
export function linkLayout(lanes: number, bufferMessages: number, functional: boolean): { entry: number; outbox: number; inbox: number; bytes: number } {
  const entry = LINK_ENTRY_HEADER_BYTES + (functional ? LINK_MAX_WIDTH * lanes : 0);
  const outbox = LINK_HEADER_BYTES;
  const inbox = outbox + bufferMessages * entry;
  return { entry, outbox, inbox, bytes: Math.ceil((inbox + bufferMessages * entry) / 64) * 64 };
}

export const UNIT = { MEM: 1, VXM: 2, MXM: 3, SXM: 4, C2C: 5 } as const;
export const STREAM_META_BYTES = 24;
/** Writers one flight of a stream can carry at different positions (segments). Entry k of slot
 * (stream, w & (RING-1)) is at index streamEntry(...): the first writers of all slots come first
 * (compact: most flights have one), the other entries after them. The first entry's bytes 20..23
 * hold its flight's writer count (i32). */
export const STREAM_WRITERS = 4;

/** Index of entry k of a stream slot in STREAM_META (x STREAM_META_BYTES) and STREAM_DATA (x lanes). */
export function streamEntry(streams: number, ring: number, stream: number, slot: number, k: number): number {
  const first = stream * ring + slot;
  return k === 0 ? first : streams * ring + first * (STREAM_WRITERS - 1) + (k - 1);
}
export const TRACE_EVENT_BYTES = 16;

export function generateMapConstants(): string {
  const out: string[] = [];
  out.push('// GENERATED by src/isa/generate.ts from src/chip/memory-map.ts. Do not edit.');
  out.push('');
  out.push(`export const MAP_BASE: usize = ${MAP_BASE};`);
  out.push(`export const CONFIG_OFFSET: usize = ${CONFIG_OFFSET};`);
  out.push(`export const QUEUE_DESC_OFFSET: usize = ${QUEUE_DESC_OFFSET};`);
  out.push(`export const QUEUE_DESC_BYTES: usize = ${QUEUE_DESC_BYTES};`);
  out.push(`export const MAX_QUEUES: i32 = ${MAX_QUEUES};`);
  out.push(`export const CONTROL_OFFSET: usize = ${CONTROL_OFFSET};`);
  out.push(`export const CONTROL_BYTES: usize = ${CONTROL_BYTES};`);
  out.push(`export const MAX_BREAKPOINTS: i32 = ${MAX_BREAKPOINTS};`);
  out.push(`export const REGION_COUNT: i32 = ${REGION_COUNT};`);
  out.push(`export const STATE_BYTES: usize = ${STATE_BYTES};`);
  out.push(`export const QSTATE_BYTES: usize = ${QSTATE_BYTES};`);
  out.push(`export const PLANE_META_BYTES: usize = ${PLANE_META_BYTES};`);
  out.push(`export const STREAM_META_BYTES: usize = ${STREAM_META_BYTES};`);
  out.push(`export const STREAM_WRITERS: i32 = ${STREAM_WRITERS};`);
  out.push(`export const TRACE_EVENT_BYTES: usize = ${TRACE_EVENT_BYTES};`);
  const group = (prefix: string, obj: Record<string, number>, type: string) => {
    out.push('');
    for (const [k, v] of Object.entries(obj)) out.push(`export const ${prefix}_${(k === k.toUpperCase() ? k : k.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase())}: ${type} = ${v};`);
  };
  group('CFG', CONFIG, 'i32');
  group('QD', QUEUE_DESC, 'i32');
  group('REGION', REGION, 'i32');
  group('ST', STATE, 'usize');
  group('QS', QSTATE, 'usize');
  group('QSTATUS', QUEUE_STATUS, 'i32');
  group('PL', PLANE, 'usize');
  group('UNIT', UNIT, 'i32');
  group('LK', LINK, 'usize');
  out.push(`export const LINK_HEADER_BYTES: usize = ${LINK_HEADER_BYTES};`);
  out.push(`export const LINK_ENTRY_HEADER_BYTES: usize = ${LINK_ENTRY_HEADER_BYTES};`);
  out.push(`export const LINK_MAX_WIDTH: i32 = ${LINK_MAX_WIDTH};`);
  out.push('');
  return out.join('\n');
}

/** Byte layout of one MXM plane's record (mirrors initLayout in assembly/layout.ts). */
export function planeLayout(lanes: number, functional = true): { ptrs: number; acc: number; rows: number; meta: number; bytes: number } {
  const ptrs = functional ? lanes * lanes : 0;
  const acc = functional ? ptrs + lanes * 4 : 0;
  const rows = acc + (functional ? lanes * 4 : 0);
  const meta = rows + lanes;
  return { ptrs, acc, rows, meta, bytes: Math.ceil((meta + PLANE_META_BYTES) / 64) * 64 };
}
