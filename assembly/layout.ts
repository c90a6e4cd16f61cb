// The chip's dimensions (read once from the host's CONFIG block) and the offsets of every region
// of the memory map (src/chip/memory-map.ts is the source of truth; map.generated.ts mirrors it).
import {
  CONFIG_OFFSET, MAP_BASE, CONTROL_OFFSET, CONTROL_BYTES, REGION_COUNT, STATE_BYTES, QSTATE_BYTES,
  PLANE_META_BYTES, STREAM_META_BYTES, STREAM_WRITERS, TRACE_EVENT_BYTES,
  CFG_LANES, CFG_STREAMS_PER_DIRECTION, CFG_POSITIONS, CFG_QUEUES, CFG_MEM_SLICES, CFG_MEM_VECTORS_PER_SLICE,
  CFG_MEM_PORTS, CFG_PLANES, CFG_ALUS, CFG_HOP_CYCLES, CFG_D_MEM_READ, CFG_D_VXM_ALU, CFG_D_VXM_LARGE, CFG_D_MXM,
  CFG_D_SXM, CFG_D_SXM_REDUCE, CFG_MXM_INSTALL_ROWS, CFG_MAX_INSTRUCTIONS, CFG_SUPERLANES, CFG_TRACE_CAPACITY,
  CFG_FUNCTIONAL, CFG_CHECKED, CFG_C2C_LINKS, CFG_C2C_LATENCY, CFG_C2C_VECTOR_CYCLES, CFG_C2C_BUFFER_MESSAGES,
  CFG_D_C2C_RECV, CFG_TRACK_DIRTY, REGION_SRAM_DIRTY, LINK_HEADER_BYTES, LINK_ENTRY_HEADER_BYTES, LINK_MAX_WIDTH, REGION_LINKS,
  REGION_PROGRAM, REGION_SCRATCH, REGION_TRACE, REGION_STATE, REGION_QSTATE, REGION_STREAM_META,
  REGION_STREAM_STATS, REGION_PORTS, REGION_MXM, REGION_VXM, REGION_STREAM_DATA, REGION_SRAM,
} from './map.generated';

export let LANES: i32 = 0;
export let S: i32 = 0; // streams per direction
export let NSTREAMS: i32 = 0; // 2 * S
export let POSITIONS: i32 = 0;
export let NQUEUES: i32 = 0;
export let MEM_SLICES: i32 = 0;
export let MEM_VECTORS: i32 = 0;
export let MEM_PORTS: i32 = 0;
export let PLANES: i32 = 0;
export let ALUS: i32 = 0;
export let HOP: i32 = 0;
export let D_MEM_READ: i32 = 0;
export let D_VXM_ALU: i32 = 0;
export let D_VXM_LARGE: i32 = 0;
export let D_MXM: i32 = 0;
export let D_SXM: i32 = 0;
export let D_SXM_REDUCE: i32 = 0;
export let INSTALL_ROWS: i32 = 0;
export let MAX_INSTR: i32 = 0;
export let SUPERLANES: i32 = 0;
export let TRACE_CAP: i32 = 0;
export let FUNCTIONAL: bool = true;
export let CHECKED: bool = false;
export let LINKS_N: i32 = 0;
export let C2C_LATENCY: i32 = 0;
export let C2C_VECTOR: i32 = 0;
export let C2C_BUFFER: i32 = 0;
export let D_C2C_RECV: i32 = 0;
/** Bytes of one link record, of one message entry, and the inbox ring's offset in the record. */
export let LINK_BYTES: usize = 0;
export let LINK_ENTRY: usize = 0;
export let LINK_INBOX: usize = 0;

/** Slots per stream ring (power of two, more than any value's flight plus the longest delay). */
export let RING: i32 = 0;
export let RING_MASK: i32 = 0;
export let RING_BITS: i32 = 0;
/** Bytes of one MXM plane's record: installed byte-plane rows (copies), row pointers,
 * accumulators, installed-row flags, meta. */
export let PLANE_BYTES: usize = 0;
export let PLANE_PTRS: usize = 0;
export let PLANE_ACC: usize = 0;
export let PLANE_ROWS: usize = 0;
export let PLANE_META: usize = 0;
export let ALU_BYTES: usize = 0;

// Region offsets (absolute addresses in linear memory).
export let PROGRAM: usize = 0;
export let SCRATCH: usize = 0;
export let TRACE: usize = 0;
export let STATE: usize = 0;
export let QSTATE: usize = 0;
export let STREAM_META: usize = 0;
export let STREAM_STATS: usize = 0;
export let PORTS: usize = 0;
export let MXM: usize = 0;
export let VXM: usize = 0;
export let STREAM_DATA: usize = 0;
export let SRAM: usize = 0;
export let LINKS: usize = 0;
export let SRAM_DIRTY: usize = 0;
export let TRACK_DIRTY: bool = false;
export let END: usize = 0;

// Scratch buffers: element arrays of LANES x 8 bytes (f64/i64 capable) and a pointer table.
export let BUF_A: usize = 0;
export let BUF_B: usize = 0;
export let PTRS: usize = 0; // up to 64 plane pointers
/** Per MEM slice, 1 if no instruction of the loaded program writes it (WRITE, SCATTER): its SRAM
 * is constant during a run, so a READ from it puts a reference on the stream, not a copy. */
export let SLICE_RO: usize = 0;
/** Per MEM slice, i32 [lo, hi): the vectors WRITE/SCATTER changed since the host last cleared
 * them (lo >= hi: none), so that a reset clears only those (host: Core.reset). */
export let WRITTEN: usize = 0;
/** The running queues of the current pass, ascending (runUntil). */
export let ACTIVE: usize = 0;
/** LANES zero bytes (never written): what an unchecked read of a stream slot empty since the
 * reset sees. */
export let ZEROS: usize = 0;

const offsets = memory.data(REGION_COUNT * 8, 8);
const sizes = memory.data(REGION_COUNT * 8, 8);

function cfg(slot: i32): i32 {
  return load<i32>(CONFIG_OFFSET + (<usize>slot << 2));
}

function align64(x: usize): usize {
  return (x + 63) & ~(<usize>63);
}

// The layout is computed in 64 bits: a big chip's regions can pass 4 GiB, which must be refused
// (init returns -1), not wrapped around the 32-bit address space.
let cursor: u64 = 0;
function place(region: i32, bytes: u64): usize {
  const at = (cursor + 63) & ~(<u64>63);
  store<u64>(offsets + (<usize>region << 3), at);
  store<u64>(sizes + (<usize>region << 3), bytes);
  cursor = at + bytes;
  return <usize>at;
}

/** Reads the CONFIG block, lays out the regions and grows memory once. Returns 0, or -1 if the
 * chip does not fit in a 32-bit Wasm memory, -2 if AssemblyScript's static data overlap the map. */
export function initLayout(): i32 {
  if (__heap_base > MAP_BASE) return -2;
  LANES = cfg(CFG_LANES);
  S = cfg(CFG_STREAMS_PER_DIRECTION);
  NSTREAMS = 2 * S;
  POSITIONS = cfg(CFG_POSITIONS);
  NQUEUES = cfg(CFG_QUEUES);
  MEM_SLICES = cfg(CFG_MEM_SLICES);
  MEM_VECTORS = cfg(CFG_MEM_VECTORS_PER_SLICE);
  MEM_PORTS = cfg(CFG_MEM_PORTS);
  PLANES = cfg(CFG_PLANES);
  ALUS = cfg(CFG_ALUS);
  HOP = cfg(CFG_HOP_CYCLES);
  D_MEM_READ = cfg(CFG_D_MEM_READ);
  D_VXM_ALU = cfg(CFG_D_VXM_ALU);
  D_VXM_LARGE = cfg(CFG_D_VXM_LARGE);
  D_MXM = cfg(CFG_D_MXM);
  D_SXM = cfg(CFG_D_SXM);
  D_SXM_REDUCE = cfg(CFG_D_SXM_REDUCE);
  INSTALL_ROWS = cfg(CFG_MXM_INSTALL_ROWS);
  MAX_INSTR = cfg(CFG_MAX_INSTRUCTIONS);
  SUPERLANES = cfg(CFG_SUPERLANES);
  TRACE_CAP = cfg(CFG_TRACE_CAPACITY);
  FUNCTIONAL = cfg(CFG_FUNCTIONAL) != 0;
  CHECKED = cfg(CFG_CHECKED) != 0;
  TRACK_DIRTY = cfg(CFG_TRACK_DIRTY) != 0;
  LINKS_N = cfg(CFG_C2C_LINKS);
  C2C_LATENCY = cfg(CFG_C2C_LATENCY);
  C2C_VECTOR = cfg(CFG_C2C_VECTOR_CYCLES);
  C2C_BUFFER = cfg(CFG_C2C_BUFFER_MESSAGES);
  D_C2C_RECV = cfg(CFG_D_C2C_RECV);

  let maxDelay = D_MEM_READ;
  if (D_VXM_ALU > maxDelay) maxDelay = D_VXM_ALU;
  if (D_VXM_LARGE > maxDelay) maxDelay = D_VXM_LARGE;
  if (D_MXM > maxDelay) maxDelay = D_MXM;
  if (D_SXM > maxDelay) maxDelay = D_SXM;
  if (D_SXM_REDUCE > maxDelay) maxDelay = D_SXM_REDUCE;
  if (D_C2C_RECV > maxDelay) maxDelay = D_C2C_RECV;
  const span = POSITIONS * HOP + maxDelay + 2;
  RING = 1;
  RING_BITS = 0;
  while (RING < span) {
    RING <<= 1;
    RING_BITS++;
  }
  RING_MASK = RING - 1;

  const L = <usize>LANES;
  // a timing-only core keeps no weights or accumulators, only which rows are installed
  const fn: usize = FUNCTIONAL ? 1 : 0;
  PLANE_PTRS = fn * L * L; // L byte-plane rows of L bytes: int8 row k, or byte b of fp16 row k at 2k+b
  PLANE_ACC = PLANE_PTRS + fn * L * 4;
  PLANE_ROWS = PLANE_ACC + fn * L * 4;
  PLANE_META = PLANE_ROWS + L;
  PLANE_BYTES = align64(PLANE_META + PLANE_META_BYTES);
  ALU_BYTES = align64(L * 4 + 8);

  cursor = <u64>(CONTROL_OFFSET + CONTROL_BYTES);
  PROGRAM = place(REGION_PROGRAM, <u64>MAX_INSTR * 16);
  const sliceBytes = align64(<usize>MEM_SLICES);
  SCRATCH = place(REGION_SCRATCH, <u64>(L * 8 * 2 + 64 * 8 + sliceBytes + <usize>MEM_SLICES * 8 + <usize>NQUEUES * 4 + L));
  BUF_A = SCRATCH;
  BUF_B = SCRATCH + L * 8;
  PTRS = SCRATCH + L * 16;
  SLICE_RO = PTRS + 64 * 8;
  WRITTEN = SLICE_RO + sliceBytes;
  ACTIVE = WRITTEN + <usize>MEM_SLICES * 8;
  ZEROS = ACTIVE + <usize>NQUEUES * 4;
  TRACE = place(REGION_TRACE, <u64>TRACE_CAP * <u64>TRACE_EVENT_BYTES);
  SRAM_DIRTY = place(REGION_SRAM_DIRTY, TRACK_DIRTY && FUNCTIONAL ? <u64>MEM_SLICES * <u64>MEM_VECTORS : 0);
  STATE = place(REGION_STATE, <u64>STATE_BYTES);
  QSTATE = place(REGION_QSTATE, <u64>NQUEUES * <u64>QSTATE_BYTES);
  STREAM_META = place(REGION_STREAM_META, <u64>NSTREAMS * <u64>RING * <u64>STREAM_WRITERS * <u64>STREAM_META_BYTES);
  STREAM_STATS = place(REGION_STREAM_STATS, <u64>NSTREAMS * 8);
  PORTS = place(REGION_PORTS, <u64>MEM_SLICES * 2 * 16);
  MXM = place(REGION_MXM, <u64>PLANES * <u64>PLANE_BYTES);
  VXM = place(REGION_VXM, <u64>ALUS * <u64>ALU_BYTES);
  const payload: usize = FUNCTIONAL ? 1 : 0;
  LINK_ENTRY = LINK_ENTRY_HEADER_BYTES + payload * <usize>LINK_MAX_WIDTH * L;
  LINK_INBOX = LINK_HEADER_BYTES + <usize>C2C_BUFFER * LINK_ENTRY;
  LINK_BYTES = align64(LINK_INBOX + <usize>C2C_BUFFER * LINK_ENTRY);
  LINKS = place(REGION_LINKS, <u64>LINKS_N * <u64>LINK_BYTES);
  STREAM_DATA = place(REGION_STREAM_DATA, <u64>payload * <u64>NSTREAMS * <u64>RING * <u64>STREAM_WRITERS * <u64>L);
  const sramBytes: u64 = <u64>payload * <u64>MEM_SLICES * <u64>MEM_VECTORS * <u64>L;
  SRAM = place(REGION_SRAM, sramBytes);
  const end: u64 = (cursor + 63) & ~(<u64>63);
  if (end > 0xFFFF0000) return -1;
  END = <usize>end;
  const pages = <i32>((END + 0xFFFF) >> 16);
  const have = memory.size();
  if (pages > have) {
    if (memory.grow(pages - have) < 0) return -1;
  }
  memory.fill(ZEROS, 0, L);
  return 0;
}

export function regionOffsetOf(region: i32): usize {
  return <usize>load<u64>(offsets + (<usize>region << 3));
}

export function regionSizeOf(region: i32): usize {
  return <usize>load<u64>(sizes + (<usize>region << 3));
}
