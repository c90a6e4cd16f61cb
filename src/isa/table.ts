// THE instruction table: the single source of truth for the ISA.
// The assembler, disassembler, docs/isa.md and the core's opcode constants
// (assembly/isa.generated.ts) all derive from it. Change an instruction here, then run
// `npm run gen`; a test fails while the generated files are stale.

/** Functional units. Every queue belongs to one unit; ICU instructions run in every queue. */
export type Unit = 'ICU' | 'MEM' | 'VXM' | 'MXM' | 'SXM' | 'C2C';

/**
 * Binary encoding: every instruction is one 16-byte little-endian record.
 *   byte 0 op | 1 dtype | 2 dst | 3 srcA | 4 srcB | 5 width | 6 flags | 7 aux | 8..11 a (i32) | 12..15 b (i32)
 * Stream ids: 0..S-1 are eastward streams E0..E(S-1); S..2S-1 are westward W0..W(S-1);
 * 255 means "none". `b` holds an f32 bit pattern where an operand is a float immediate.
 */
export const INSTRUCTION_BYTES = 16;
export const FIELD_OFFSETS = { op: 0, dtype: 1, dst: 2, srcA: 3, srcB: 4, width: 5, flags: 6, aux: 7, a: 8, b: 12 } as const;
export type Field = keyof typeof FIELD_OFFSETS;
export const STREAM_NONE = 255;

/**
 * Operand kinds, as written in assembly:
 *  - stream:   a stream group base, `E3` or `W12`; its width comes from the dtype or from `width`
 *  - streamOpt: a stream or `-` (none)
 *  - addr:     an SRAM vector address in the queue's MEM slice: an integer or a tensor reference
 *              `name`, `name[row]`; for a tensor the group width is the planes of one row held there
 *  - int:      a signed integer immediate
 *  - float:    a floating-point immediate (stored as f32 bits) or integer for integer dtypes
 *  - dtype:    a data type name (the source type of CVT)
 *  - step:     `+N` address increment applied on each REPEAT (MEM); optional
 *  - acc:      `acc` to add into the accumulator; omitted: overwrite. ACC uses `reset`.
 */
export type OperandKind = 'stream' | 'streamOpt' | 'addr' | 'int' | 'float' | 'dtype' | 'step' | 'flag';

export interface Operand {
  name: string;
  kind: OperandKind;
  field: Field;
  /** For 'flag': the keyword and the bit it sets in `flags`. */
  keyword?: string;
  bit?: number;
  /** True where the operand may be left out (its default is documented). */
  optional?: boolean;
  doc: string;
}

/** Which preset delay an instruction's results wait (functional delay, cycles from issue). */
export type DelayKey = 'none' | 'memRead' | 'vxmAlu' | 'vxmLarge' | 'mxm' | 'sxm' | 'sxmReduce' | 'c2cRecv';

export interface Instruction {
  mnemonic: string;
  opcode: number;
  unit: Unit;
  /** Allowed dtypes for the `.dtype` suffix; empty means the instruction takes no suffix. */
  dtypes: readonly string[];
  operands: readonly Operand[];
  delay: DelayKey;
  /** Cycles the queue is occupied: the next instruction issues this many cycles later. */
  issue: string;
  reads: string;
  writes: string;
  doc: string;
}

const ALL_TYPES = ['int8', 'int16', 'int32', 'fp16', 'bf16', 'fp32'] as const;
const FLOAT_TYPES = ['fp16', 'bf16', 'fp32'] as const;
const MXM_TYPES = ['int8', 'fp16', 'bf16'] as const;

const dst: Operand = { name: 'dst', kind: 'stream', field: 'dst', doc: 'result stream group (width = dtype bytes)' };
const srcA: Operand = { name: 'src', kind: 'stream', field: 'srcA', doc: 'operand stream group (width = dtype bytes)' };
const srcB: Operand = { name: 'src2', kind: 'stream', field: 'srcB', doc: 'second operand stream group' };

function vxmBinary(mnemonic: string, opcode: number, what: string): Instruction {
  return {
    mnemonic, opcode, unit: 'VXM', dtypes: ALL_TYPES, operands: [dst, srcA, srcB], delay: 'vxmAlu', issue: '1',
    reads: 'streams src, src2 at the VXM at issue', writes: 'stream dst at the VXM at issue + vxmAlu',
    doc: `Elementwise ${what} over all lanes. Integer types: int32 wraps, int8/int16 saturate. Floats: computed in fp32, rounded to the dtype (nearest even).`,
  };
}

function vxmUnary(mnemonic: string, opcode: number, what: string, large: boolean, types: readonly string[] = ALL_TYPES): Instruction {
  return {
    mnemonic, opcode, unit: 'VXM', dtypes: types, operands: [dst, srcA], delay: large ? 'vxmLarge' : 'vxmAlu', issue: '1',
    reads: 'stream src at the VXM at issue', writes: `stream dst at the VXM at issue + ${large ? 'vxmLarge' : 'vxmAlu'}`,
    doc: what,
  };
}

export const INSTRUCTIONS: readonly Instruction[] = [
  // ---- ICU: control, available in every queue -------------------------------------------
  {
    mnemonic: 'NOP', opcode: 0, unit: 'ICU', dtypes: [], delay: 'none', issue: 'n',
    operands: [{ name: 'n', kind: 'int', field: 'a', doc: 'cycles to idle, >= 1' }],
    reads: '-', writes: '-', doc: 'The queue idles for n cycles. The assembler emits NOPs for `@cycle` placement.',
  },
  {
    mnemonic: 'REPEAT', opcode: 1, unit: 'ICU', dtypes: [], delay: 'none', issue: '0 (the repeats occupy n x d)',
    operands: [
      { name: 'n', kind: 'int', field: 'a', doc: 'extra repetitions, >= 1' },
      { name: 'd', kind: 'int', field: 'b', doc: 'cycles between repetitions, >= the previous instruction\'s issue cycles' },
    ],
    reads: 'as the previous instruction', writes: 'as the previous instruction',
    doc: 'Repeats the previous instruction n more times, d cycles apart (at t+d, t+2d, ... t+n*d). MEM addresses advance by the instruction\'s step, IW rows by its row count each time. The next instruction issues at t + n*d + issue(previous).',
  },
  {
    mnemonic: 'SYNC', opcode: 2, unit: 'ICU', dtypes: [], delay: 'none', issue: 'parks until a NOTIFY',
    operands: [], reads: '-', writes: 'queue state (parked)',
    doc: 'Parks the queue. A NOTIFY issued on cycle N (by any queue) restarts every queue parked on or before N; their next instruction issues at N+1.',
  },
  {
    mnemonic: 'NOTIFY', opcode: 3, unit: 'ICU', dtypes: [], delay: 'none', issue: '1',
    operands: [], reads: '-', writes: 'parked queues (restarted)',
    doc: 'Restarts all parked queues on the next cycle.',
  },
  {
    mnemonic: 'HALT', opcode: 4, unit: 'ICU', dtypes: [], delay: 'none', issue: 'ends the queue',
    operands: [], reads: '-', writes: 'queue state (halted)',
    doc: 'Ends the queue\'s program. The chip halts when every queue with a program has halted. A queue that runs past its last instruction without HALT is an error.',
  },
  // ---- MEM: SRAM <-> streams ---------------------------------------------------------------
  {
    mnemonic: 'READ', opcode: 16, unit: 'MEM', dtypes: [], delay: 'memRead', issue: '1',
    operands: [
      { name: 'addr', kind: 'addr', field: 'a', doc: 'first SRAM vector address (or tensor reference) in this slice' },
      { name: 'dst', kind: 'stream', field: 'dst', doc: 'first stream of the group; the group is `width` streams wide' },
      { name: 'width', kind: 'int', field: 'width', optional: true, doc: 'planes to read (default: a tensor row\'s planes in this slice, else 1)' },
      { name: 'step', kind: 'step', field: 'b', optional: true, doc: 'address increment per REPEAT (default: width)' },
    ],
    reads: 'SRAM addr .. addr+width-1 of this slice (width MEM ports at issue)',
    writes: 'streams dst .. dst+width-1 at this slice at issue + memRead',
    doc: 'Reads `width` consecutive vectors (byte planes) from the slice\'s SRAM onto a stream group.',
  },
  {
    mnemonic: 'WRITE', opcode: 17, unit: 'MEM', dtypes: [], delay: 'none', issue: '1',
    operands: [
      { name: 'addr', kind: 'addr', field: 'a', doc: 'first SRAM vector address (or tensor reference) in this slice' },
      { name: 'src', kind: 'stream', field: 'srcA', doc: 'first stream of the group' },
      { name: 'width', kind: 'int', field: 'width', optional: true, doc: 'planes to write (default as READ)' },
      { name: 'step', kind: 'step', field: 'b', optional: true, doc: 'address increment per REPEAT (default: width)' },
    ],
    reads: 'streams src .. src+width-1 at this slice at issue',
    writes: 'SRAM addr .. addr+width-1 at issue + 1 (write-back stage: width MEM ports on that cycle)',
    doc: 'Samples a stream group as it passes the slice and writes it to SRAM one cycle later; the data are readable from that cycle.',
  },
  {
    mnemonic: 'GATHER', opcode: 18, unit: 'MEM', dtypes: [], delay: 'memRead', issue: '1',
    operands: [
      { name: 'base', kind: 'addr', field: 'a', doc: 'base address (or tensor)' },
      { name: 'idx', kind: 'stream', field: 'srcA', doc: 'int16 index stream group (2 streams): row index per lane' },
      { name: 'dst', kind: 'stream', field: 'dst', doc: 'first stream of the result group' },
      { name: 'width', kind: 'int', field: 'width', optional: true, doc: 'planes per row (default as READ)' },
    ],
    reads: 'streams idx at issue; per lane i, SRAM base + idx[i]*width + k (width MEM ports at issue)',
    writes: 'streams dst .. dst+width-1 at issue + memRead',
    doc: 'Per-lane indirect read: lane i of the result is lane i of row idx[i] of the tensor at base.',
  },
  {
    mnemonic: 'SCATTER', opcode: 19, unit: 'MEM', dtypes: [], delay: 'none', issue: '1',
    operands: [
      { name: 'base', kind: 'addr', field: 'a', doc: 'base address (or tensor)' },
      { name: 'idx', kind: 'stream', field: 'srcB', doc: 'int16 index stream group (2 streams)' },
      { name: 'src', kind: 'stream', field: 'srcA', doc: 'first stream of the data group' },
      { name: 'width', kind: 'int', field: 'width', optional: true, doc: 'planes per row (default as READ)' },
    ],
    reads: 'streams idx and src at issue',
    writes: 'per lane i, SRAM base + idx[i]*width + k at issue + 1 (width MEM ports then)',
    doc: 'Per-lane indirect write: lane i of the data goes to lane i of row idx[i].',
  },
  // ---- VXM: vector ALUs (one queue per ALU) -------------------------------------------------
  vxmBinary('ADD', 32, 'addition'),
  vxmBinary('SUB', 33, 'subtraction (src - src2)'),
  vxmBinary('MUL', 34, 'multiplication'),
  vxmBinary('MAX', 35, 'maximum'),
  vxmBinary('MIN', 36, 'minimum'),
  vxmUnary('NEG', 37, 'Elementwise negation.', false),
  vxmUnary('ABS', 38, 'Elementwise absolute value.', false),
  vxmUnary('EXP2', 39, 'Elementwise 2^x (large ALU).', true, FLOAT_TYPES),
  vxmUnary('EXP', 40, 'Elementwise e^x (large ALU).', true, FLOAT_TYPES),
  vxmUnary('RSQRT', 41, 'Elementwise 1/sqrt(x) (large ALU). There is no divide: y/x = y * rsqrt(x)^2 for x > 0.', true, FLOAT_TYPES),
  vxmUnary('TANH', 42, 'Elementwise tanh (large ALU).', true, FLOAT_TYPES),
  vxmUnary('SIGMOID', 43, 'Elementwise 1/(1+e^-x) (large ALU); SiLU is MUL(x, SIGMOID(x)).', true, FLOAT_TYPES),
  {
    mnemonic: 'ADDS', opcode: 44, unit: 'VXM', dtypes: ALL_TYPES, delay: 'vxmAlu', issue: '1',
    operands: [dst, srcA, { name: 'imm', kind: 'float', field: 'b', doc: 'scalar added to every lane' }],
    reads: 'stream src at issue', writes: 'stream dst at issue + vxmAlu',
    doc: 'Adds a scalar immediate to every lane.',
  },
  {
    mnemonic: 'MULS', opcode: 45, unit: 'VXM', dtypes: ALL_TYPES, delay: 'vxmAlu', issue: '1',
    operands: [dst, srcA, { name: 'imm', kind: 'float', field: 'b', doc: 'scalar multiplying every lane' }],
    reads: 'stream src at issue', writes: 'stream dst at issue + vxmAlu',
    doc: 'Multiplies every lane by a scalar immediate.',
  },
  {
    mnemonic: 'CVT', opcode: 46, unit: 'VXM', dtypes: ALL_TYPES, delay: 'vxmLarge', issue: '1',
    operands: [
      dst,
      { name: 'src', kind: 'stream', field: 'srcA', doc: 'source stream group (width = from-dtype bytes)' },
      { name: 'from', kind: 'dtype', field: 'aux', doc: 'source dtype' },
      { name: 'scale', kind: 'float', field: 'b', optional: true, doc: 'multiplier applied before the cast (default 1): quantise or dequantise' },
    ],
    reads: 'stream src at issue', writes: 'stream dst at issue + vxmLarge',
    doc: 'Converts `from` to the suffix dtype: y = cast(x * scale). To integers: round half to even, saturate; to floats: round to nearest even.',
  },
  {
    mnemonic: 'ACC', opcode: 47, unit: 'VXM', dtypes: ALL_TYPES, delay: 'vxmAlu', issue: '1',
    operands: [
      { name: 'dst', kind: 'streamOpt', field: 'dst', doc: 'stream group to emit the running sum on, or `-` to keep it' },
      srcA,
      { name: 'reset', kind: 'flag', field: 'flags', keyword: 'reset', bit: 1, optional: true, doc: '`reset` starts a new sum with this vector' },
    ],
    reads: 'stream src at issue; the ALU\'s accumulator', writes: 'the ALU\'s accumulator; stream dst at issue + vxmAlu',
    doc: 'Accumulates consecutive vectors in the ALU\'s accumulator (fp32 for float dtypes, int32 for integers); emits the running sum in the dtype when dst is given.',
  },
  // ---- MXM: matrix planes (one queue per plane) ---------------------------------------------
  {
    mnemonic: 'IW', opcode: 64, unit: 'MXM', dtypes: MXM_TYPES, delay: 'none', issue: '1',
    operands: [
      { name: 'row', kind: 'int', field: 'a', doc: 'first weight row (the K index) to install' },
      { name: 'src', kind: 'stream', field: 'srcA', doc: 'first stream; row r+j comes on the j-th group of dtype-bytes streams' },
      { name: 'rows', kind: 'int', field: 'width', optional: true, doc: 'rows installed by this instruction, 1..mxmInstallRows (default 1)' },
    ],
    reads: 'streams src .. src+rows*bytes-1 at the MXM at issue',
    writes: 'plane weight rows row .. row+rows-1 (usable from issue + 1); installing row 0 starts a new weight set',
    doc: 'Installs weight rows from streams. A plane holds lanes x lanes int8 weights, or lanes/2 x lanes fp16/bf16 weights. Under REPEAT the row advances by `rows`.',
  },
  {
    mnemonic: 'MM', opcode: 65, unit: 'MXM', dtypes: MXM_TYPES, delay: 'mxm', issue: '1 (int8), 2 (fp16, bf16)',
    operands: [
      { name: 'src', kind: 'stream', field: 'srcA', doc: 'activation stream group (dtype bytes wide); fp16/bf16 use lanes 0..lanes/2-1' },
      { name: 'dst', kind: 'streamOpt', field: 'dst', doc: 'result group (4 streams: int32 or fp32), or `-` to only accumulate' },
      { name: 'acc', kind: 'flag', field: 'flags', keyword: 'acc', bit: 1, optional: true, doc: '`acc` adds the product to the accumulators; omitted: overwrite them' },
    ],
    reads: 'stream src at issue; all installed weight rows of the plane', writes: 'plane accumulators; stream dst (4 streams) at issue + mxm',
    doc: 'y[n] = sum_k x[k] * W[k][n] (int8 -> int32, fp16/bf16 -> fp32), into the plane\'s accumulators; emitted when dst is given. Using a plane before all its rows are installed is an error.',
  },
  // ---- SXM: lane movement and cross-lane reductions ----------------------------------------
  {
    mnemonic: 'SHIFT', opcode: 80, unit: 'SXM', dtypes: ALL_TYPES, delay: 'sxm', issue: '1',
    operands: [dst, srcA, { name: 'n', kind: 'int', field: 'a', doc: 'lanes to shift towards higher lanes (negative: lower); vacated lanes get 0' }],
    reads: 'stream src at issue', writes: 'stream dst at issue + sxm', doc: 'out[i] = in[i - n], 0 outside.',
  },
  {
    mnemonic: 'ROT', opcode: 81, unit: 'SXM', dtypes: ALL_TYPES, delay: 'sxm', issue: '1',
    operands: [dst, srcA, { name: 'n', kind: 'int', field: 'a', doc: 'lanes to rotate towards higher lanes' }],
    reads: 'stream src at issue', writes: 'stream dst at issue + sxm', doc: 'out[i] = in[(i - n) mod lanes].',
  },
  {
    mnemonic: 'PERM', opcode: 82, unit: 'SXM', dtypes: ALL_TYPES, delay: 'sxm', issue: '1',
    operands: [dst, srcA, { name: 'idx', kind: 'stream', field: 'srcB', doc: 'int16 index stream group (2 streams)' }],
    reads: 'streams src, idx at issue', writes: 'stream dst at issue + sxm', doc: 'out[i] = in[idx[i]]; an index outside 0..lanes-1 is an error.',
  },
  {
    mnemonic: 'DIST', opcode: 83, unit: 'SXM', dtypes: ALL_TYPES, delay: 'sxm', issue: '1',
    operands: [dst, srcA,
      { name: 'lane', kind: 'int', field: 'a', doc: 'lane within each segment to copy' },
      { name: 'seg', kind: 'int', field: 'b', optional: true, doc: 'segment length, divides lanes (default: lanes)' }],
    reads: 'stream src at issue', writes: 'stream dst at issue + sxm', doc: 'Distributes (broadcasts) one lane of each segment to the whole segment.',
  },
  {
    mnemonic: 'TRANS', opcode: 84, unit: 'SXM', dtypes: ALL_TYPES, delay: 'sxm', issue: '1',
    operands: [dst, srcA, { name: 'rows', kind: 'int', field: 'a', doc: 'rows of the matrix the lanes hold (divides lanes)' }],
    reads: 'stream src at issue', writes: 'stream dst at issue + sxm',
    doc: 'Treats the lanes as a rows x (lanes/rows) row-major matrix and writes its transpose.',
  },
  {
    mnemonic: 'RSUM', opcode: 85, unit: 'SXM', dtypes: ALL_TYPES, delay: 'sxmReduce', issue: '1',
    operands: [dst, srcA, { name: 'seg', kind: 'int', field: 'a', optional: true, doc: 'segment length, divides lanes (default: lanes)' }],
    reads: 'stream src at issue', writes: 'stream dst at issue + sxmReduce',
    doc: 'Sums each segment of lanes (in lane order; fp32 for floats, wrapping int32 for integers) and writes the sum to every lane of the segment.',
  },
  {
    mnemonic: 'RMAX', opcode: 86, unit: 'SXM', dtypes: ALL_TYPES, delay: 'sxmReduce', issue: '1',
    operands: [dst, srcA, { name: 'seg', kind: 'int', field: 'a', optional: true, doc: 'segment length (default: lanes)' }],
    reads: 'stream src at issue', writes: 'stream dst at issue + sxmReduce',
    doc: 'Maximum of each segment of lanes, written to every lane of the segment.',
  },
  // ---- C2C: chip-to-chip links (one queue per link) ------------------------------------------
  {
    mnemonic: 'SEND', opcode: 96, unit: 'C2C', dtypes: [], delay: 'none', issue: '1 (the link stays busy width x c2c.vectorCycles)',
    operands: [
      { name: 'src', kind: 'stream', field: 'srcA', doc: 'first stream of the group to send' },
      { name: 'width', kind: 'int', field: 'width', optional: true, doc: 'vectors (streams) to send, 1..4 (default 1)' },
    ],
    reads: 'streams src .. src+width-1 at the link\'s slice at issue',
    writes: 'the link: busy until issue + width*vectorCycles; the peer\'s receive buffer on issue + width*vectorCycles + latency',
    doc: 'Transmits a vector or stream group on this queue\'s link. Each vector is one flow-control unit (320 B + 8 B on the wire, ISCA22). Sending on a link that is not connected, or while the link is still serialising the previous message, is an error.',
  },
  {
    mnemonic: 'RECV', opcode: 97, unit: 'C2C', dtypes: [], delay: 'c2cRecv', issue: '1',
    operands: [
      { name: 'dst', kind: 'stream', field: 'dst', doc: 'first stream of the group to write' },
      { name: 'width', kind: 'int', field: 'width', optional: true, doc: 'vectors in the message, 1..4 (default 1); must match the SEND' },
    ],
    reads: 'the oldest message in the link\'s receive buffer (it must have arrived by the issue cycle)',
    writes: 'streams dst .. dst+width-1 at the link\'s slice at issue + c2cRecv',
    doc: 'Takes the oldest arrived message off this queue\'s link and puts it on a stream group. Receiving when nothing has arrived is an error (there is no back-pressure: the schedule must know).',
  },
];

export function instructionByMnemonic(m: string): Instruction | undefined {
  return INSTRUCTIONS.find((i) => i.mnemonic === m.toUpperCase());
}

export function instructionByOpcode(op: number): Instruction | undefined {
  return INSTRUCTIONS.find((i) => i.opcode === op);
}

/** Cycles a queue is occupied by one issue of `op` with dtype code `dt` (REPEAT, SYNC, HALT: 0). */
export function issueCycles(op: number, dtypeCode: number, a: number): number {
  if (op === 0) return a; // NOP n
  if (op === 1 || op === 2 || op === 4) return 0;
  if (op === 65 && dtypeCode !== 0) return 2; // MM fp16/bf16: half the int8 rate per plane
  return 1;
}

/** Hazard and error codes the core reports; the host formats them (src/chip/errors.ts). */
export const ERRORS = [
  { code: 1, name: 'STREAM_EMPTY', checked: true, doc: 'read of a stream slot that holds nothing at that position and cycle (never written, or written downstream, or already gone)' },
  { code: 2, name: 'STREAM_COLLISION', checked: true, doc: 'two writes to one stream slot: the same stream and flight at the same position (writers at different positions are segments and legal); also, always reported, more than 4 segments on one flight (an emulator limit)' },
  { code: 3, name: 'MEM_PORT', checked: true, doc: 'a MEM slice used more vector ports in one cycle than it has' },
  { code: 4, name: 'SRAM_RANGE', checked: false, doc: 'an SRAM address out of range of the slice' },
  { code: 5, name: 'MXM_NO_WEIGHTS', checked: false, doc: 'MM on a plane before all its weight rows are installed, or with another dtype than installed' },
  { code: 6, name: 'QUEUE_OVERRUN', checked: false, doc: 'a queue ran past the end of its program without HALT' },
  { code: 7, name: 'DEADLOCK', checked: false, doc: 'every running queue is parked in SYNC and no NOTIFY can come' },
  { code: 8, name: 'BAD_OPERAND', checked: false, doc: 'an operand the unit cannot execute (bad opcode, stream id, dtype, lane index)' },
  { code: 9, name: 'LINK_UNCONNECTED', checked: false, doc: 'SEND on a link that the system does not connect to another chip' },
  { code: 10, name: 'LINK_BUSY', checked: true, doc: 'SEND while the link is still serialising an earlier message' },
  { code: 11, name: 'RECV_EMPTY', checked: false, doc: 'RECV when no message has arrived on the link (never sent, or not yet arrived)' },
  { code: 12, name: 'LINK_OVERFLOW', checked: false, doc: 'more messages in flight or waiting on a link than its buffer holds' },
] as const;

/** Stop reasons, a bitmask returned by run(). */
export const STOP = { HALT: 1, BREAKPOINT: 2, CYCLE_LIMIT: 4, ERROR: 8 } as const;

/** Breakpoint kinds understood by the core. */
export const BREAKPOINTS = [
  { code: 1, name: 'CYCLE', doc: 'stop before cycle a is executed' },
  { code: 2, name: 'QUEUE_PC', doc: 'stop before queue a issues instruction index b' },
  { code: 3, name: 'OPCODE', doc: 'stop before any queue issues opcode a' },
  { code: 4, name: 'STREAM_WRITE', doc: 'stop after an instruction writes stream id a' },
  { code: 5, name: 'SRAM_WRITE', doc: 'stop after a write to slice a, addresses b .. b+c-1' },
] as const;
