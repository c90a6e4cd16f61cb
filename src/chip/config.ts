// The validated, derived description of one chip, built from a preset file by preset.ts.
// Every consumer (core loader, assembler, reports, compiler) reads chip figures from here.
import type { DtypeName } from '../isa/dtypes.js';

export interface Provenance {
  /** 'published' (a paper or vendor figure), 'derived' (computed from published ones), 'assumption' (chosen, unpublished). */
  kind: 'published' | 'derived' | 'assumption';
  source: string;
  note?: string;
}

export interface Delays {
  /** MEM READ/GATHER: issue to data on the stream at the slice. */
  memRead: number;
  /** Simple VXM ALU ops (add, mul, max, acc, ...). */
  vxmAlu: number;
  /** Large VXM ALU ops (exp, rsqrt, tanh, sigmoid, cast). */
  vxmLarge: number;
  /** MXM MM: issue to results on the stream. */
  mxm: number;
  /** SXM shift/rotate/permute/distribute/transpose. */
  sxm: number;
  /** SXM cross-lane reductions. */
  sxmReduce: number;
  /** C2C RECV: issue to the message on the stream. */
  c2cRecv: number;
}

export interface ChipConfig {
  name: string;
  description: string;
  clockHz: number;
  superlanes: number;
  lanesPerSuperlane: number;
  /** superlanes x lanesPerSuperlane: the vector length in bytes (one byte per lane per stream). */
  lanes: number;
  streamsPerDirection: number;
  memSlicesPerHemisphere: number;
  /** 320-byte (lanes-byte) vectors per MEM slice. */
  memVectorsPerSlice: number;
  /** Vector accesses a MEM slice can make per cycle (reads at issue, writes at issue+1). */
  memPorts: number;
  /** VXM ALUs per lane; each is one instruction queue operating on whole vectors. */
  vxmAlus: number;
  mxmPlanesPerHemisphere: number;
  /** Weight rows one IW instruction may install (streams feeding the weight buffer). */
  mxmInstallRows: number;
  mxmDtypes: DtypeName[];
  vxmDtypes: DtypeName[];
  /** Cycles for a value to move one slice position along a stream. */
  hopCycles: number;
  /** Chip-to-chip links (one C2C queue each). */
  c2cLinks: number;
  /** Cycles from the end of a message's serialisation to its arrival in the peer's buffer. */
  c2cLatencyCycles: number;
  /** Cycles a link needs to serialise one 320-byte vector (its bandwidth). */
  c2cVectorCycles: number;
  /** Messages a link can hold in flight or waiting in its receive buffer. */
  c2cBufferMessages: number;
  delays: Delays;
  /** Where each figure came from, keyed by its field path (e.g. "clockHz", "delays.mxm"). */
  provenance: Record<string, Provenance>;
  /** The file the preset was read from. */
  file: string;
}
