// Snapshots of one core for stepping back, without copying SRAM wholesale (a tsp-v1 core holds
// 220 MiB of SRAM; the rest of its state is about 5 MiB).
//
// A snapshot k at cycle c_k keeps:
//  - the non-SRAM state [STATE, SRAM) either whole (a keyframe, every KEYFRAME_EVERY-th snapshot)
//    or as the BLOCK-byte blocks that changed since snapshot k-1;
//  - the SRAM vectors written in (c_{k-1}, c_k] (the core's SRAM_DIRTY map, which the store
//    clears after each snapshot), with their contents at c_k.
// Restoring snapshot j: copy the keyframe at or before j and apply the block diffs up to j; then,
// for every SRAM vector that may differ between the machine's current state and c_j (the vectors
// dirtied since the store's base snapshot b, plus those captured by the snapshots between b and j),
// write its value at c_j: its capture in the latest snapshot at or before j that holds it, or,
// if none does, its initial value, recomputed from the program's tensors. A per-vector index lists
// the snapshots that captured each vector, so each lookup is a binary search.
// Merging snapshot k into k+1 (to stay within a memory budget) unions their block and vector sets.
import type { Core } from '../../chip/core.js';
import type { Program } from '../../asm/program.js';
import { REGION } from '../../chip/memory-map.js';
import { dtypeByName } from '../../isa/dtypes.js';

export const BLOCK = 256;
export const KEYFRAME_EVERY = 16;

export interface CoreSnap {
  cycle: number;
  /** Full non-SRAM state (keyframes only). */
  key: Uint8Array | null;
  /** Changed blocks (indices) and their contents, when not a keyframe. */
  blocks: Int32Array;
  blockData: Uint8Array;
  /** SRAM vectors written since the previous snapshot (ascending) and their contents here. */
  vecs: Int32Array;
  vecData: Uint8Array;
}

function snapBytes(s: CoreSnap): number {
  return (s.key?.length ?? 0) + s.blockData.length + s.blocks.length * 4 + s.vecData.length + s.vecs.length * 4 + 64;
}

/** Index of `x` in the ascending array `a`, or -1. */
function find(a: Int32Array, x: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = a[mid];
    if (v === x) return mid;
    if (v < x) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

interface InitialPiece {
  data: Uint8Array;
  bytes: number;
  cols: number;
  pps: number;
  plane0: number;
  lo: number;
  hi: number;
}

export class CoreStore {
  readonly snaps: CoreSnap[] = [];
  /** The snapshot whose state the SRAM equals, up to the vectors in the dirty map. */
  base = -1;
  private readonly stateOff: number;
  private readonly stateLen: number;
  private readonly sramOff: number;
  private readonly dirtyOff: number;
  private readonly vectors: number;
  private readonly lanes: number;
  private readonly perSlice: number;
  /** Full non-SRAM image of the latest snapshot: what the next one is diffed against. */
  private last: Uint8Array | null = null;
  private readonly index = new Map<number, CoreSnap[]>();
  /** Per SRAM slice: the initialised tensor pieces placed there, later tensors last. */
  private readonly initial: InitialPiece[][];
  private readonly marks: Int32Array;
  private generation = 0;
  bytes = 0;
  /** Per vector, the cycle of the first snapshot that captured it (Infinity: never). */
  readonly firstWrite: Float64Array;

  constructor(readonly core: Core, program: Program) {
    this.stateOff = core.region(REGION.STATE).offset;
    this.sramOff = core.region(REGION.SRAM).offset;
    this.stateLen = this.sramOff - this.stateOff;
    const dirty = core.region(REGION.SRAM_DIRTY);
    this.dirtyOff = dirty.offset;
    this.lanes = core.chip.lanes;
    this.perSlice = core.chip.memVectorsPerSlice;
    this.vectors = core.plan.memSlices.length * this.perSlice;
    if (dirty.size !== this.vectors) throw new Error('the core was made without trackDirty');
    this.marks = new Int32Array(this.vectors);
    this.firstWrite = new Float64Array(this.vectors).fill(Infinity);
    this.initial = core.plan.memSlices.map(() => []);
    const sliceIndex = new Map(core.plan.memSlices.map((s, i) => [s.name, i]));
    for (const t of program.tensors) {
      if (!t.data) continue;
      const bytes = dtypeByName(t.dtype)!.bytes;
      const pps = bytes / t.placement.length;
      t.placement.forEach((p, pi) => {
        const si = sliceIndex.get(p.slice);
        if (si === undefined) return;
        this.initial[si].push({ data: t.data!, bytes, cols: t.shape[1], pps, plane0: pi * pps, lo: p.addr, hi: p.addr + t.shape[0] * pps });
      });
    }
  }

  private mem(): Uint8Array {
    return new Uint8Array(this.core.memory.buffer);
  }

  /** The SRAM vectors marked in the dirty map (ascending). */
  dirtyVectors(): Int32Array {
    const m = this.mem();
    const words = new Uint32Array(this.core.memory.buffer, this.dirtyOff, this.vectors >>> 2);
    const out: number[] = [];
    for (let w = 0; w < words.length; w++) {
      if (words[w] === 0) continue;
      for (let k = 0; k < 4; k++) if (m[this.dirtyOff + w * 4 + k]) out.push(w * 4 + k);
    }
    for (let v = words.length * 4; v < this.vectors; v++) if (m[this.dirtyOff + v]) out.push(v);
    return Int32Array.from(out);
  }

  isDirty(v: number): boolean {
    return this.mem()[this.dirtyOff + v] !== 0;
  }

  clearDirty(): void {
    this.mem().fill(0, this.dirtyOff, this.dirtyOff + this.vectors);
  }

  /** Takes snapshot number snaps.length of the current state (the store's base must be the
   * latest snapshot: snapshots are only taken at the frontier). */
  take(cycle: number): CoreSnap {
    const m = this.mem();
    const vecs = this.dirtyVectors();
    const L = this.lanes;
    const vecData = new Uint8Array(vecs.length * L);
    for (let i = 0; i < vecs.length; i++) {
      const off = this.sramOff + vecs[i] * L;
      vecData.set(m.subarray(off, off + L), i * L);
    }
    const cur = m.subarray(this.stateOff, this.sramOff);
    let snap: CoreSnap;
    const n = this.snaps.length;
    if (n % KEYFRAME_EVERY === 0 || !this.last) {
      const key = cur.slice();
      snap = { cycle, key, blocks: new Int32Array(0), blockData: new Uint8Array(0), vecs, vecData };
      if (!this.last) this.last = key.slice();
      else this.last.set(key);
    } else {
      const last = this.last;
      const a = new Int32Array(this.core.memory.buffer, this.stateOff, this.stateLen >>> 2);
      const b = new Int32Array(last.buffer, last.byteOffset, this.stateLen >>> 2);
      const words = BLOCK >>> 2;
      const changed: number[] = [];
      const nb = Math.ceil(this.stateLen / BLOCK);
      for (let k = 0; k < nb; k++) {
        const s = k * words;
        const e = Math.min(s + words, a.length);
        for (let i = s; i < e; i++) {
          if (a[i] !== b[i]) {
            changed.push(k);
            break;
          }
        }
      }
      // a tail shorter than a word (the region is 64-byte aligned, so none in practice)
      for (let i = (this.stateLen >>> 2) * 4; i < this.stateLen; i++) {
        if (cur[i] !== last[i] && changed[changed.length - 1] !== nb - 1) changed.push(nb - 1);
      }
      const blocks = Int32Array.from(changed);
      const blockData = new Uint8Array(blocks.length * BLOCK);
      for (let i = 0; i < blocks.length; i++) {
        const s = blocks[i] * BLOCK;
        const e = Math.min(s + BLOCK, this.stateLen);
        blockData.set(cur.subarray(s, e), i * BLOCK);
        last.set(cur.subarray(s, e), s);
      }
      snap = { cycle, key: null, blocks, blockData, vecs, vecData };
    }
    for (let i = 0; i < vecs.length; i++) {
      const v = vecs[i];
      const list = this.index.get(v);
      if (list) list.push(snap);
      else this.index.set(v, [snap]);
      if (this.firstWrite[v] === Infinity) this.firstWrite[v] = cycle;
    }
    this.snaps.push(snap);
    this.bytes += snapBytes(snap);
    this.clearDirty();
    this.base = n;
    return snap;
  }

  /** The crossing of snapshot k while replaying forward: the state now is snapshot k's. */
  passed(k: number): void {
    this.clearDirty();
    this.base = k;
  }

  /** Writes the initial value of SRAM vector v (from the program's tensors) at `off`. */
  private writeInitial(m: Uint8Array, v: number, off: number): void {
    const L = this.lanes;
    m.fill(0, off, off + L);
    const slice = Math.floor(v / this.perSlice);
    const addr = v - slice * this.perSlice;
    const pieces = this.initial[slice];
    for (let i = pieces.length - 1; i >= 0; i--) {
      const p = pieces[i];
      if (addr < p.lo || addr >= p.hi) continue;
      const o = addr - p.lo;
      const r = Math.floor(o / p.pps);
      const k = p.plane0 + (o % p.pps);
      const rowBase = r * p.cols * p.bytes + k;
      for (let c = 0; c < p.cols; c++) m[off + c] = p.data[rowBase + c * p.bytes];
      return;
    }
  }

  /** Writes into SRAM the value vector v has at snapshot j. */
  private writeAt(m: Uint8Array, v: number, j: number): void {
    const L = this.lanes;
    const off = this.sramOff + v * L;
    const list = this.index.get(v);
    const cj = this.snaps[j].cycle;
    if (list) {
      let lo = 0;
      let hi = list.length - 1;
      let best = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        if (list[mid].cycle <= cj) {
          best = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      if (best >= 0) {
        const s = list[best];
        const i = find(s.vecs, v);
        m.set(s.vecData.subarray(i * L, (i + 1) * L), off);
        return;
      }
    }
    this.writeInitial(m, v, off);
  }

  /** Puts the core in snapshot j's state (the caller then tells the core: Core.restore). */
  restore(j: number): { vectors: number } {
    const m = this.mem();
    // non-SRAM state: the keyframe at or before j, then the block diffs up to j
    let k = j;
    while (!this.snaps[k].key) k--;
    m.set(this.snaps[k].key!, this.stateOff);
    for (let i = k + 1; i <= j; i++) {
      const s = this.snaps[i];
      for (let b = 0; b < s.blocks.length; b++) {
        const at = s.blocks[b] * BLOCK;
        const len = Math.min(BLOCK, this.stateLen - at);
        m.set(s.blockData.subarray(b * BLOCK, b * BLOCK + len), this.stateOff + at);
      }
    }
    // SRAM: the vectors that may differ between now and c_j
    const gen = ++this.generation;
    let count = 0;
    const fix = (v: number) => {
      if (this.marks[v] === gen) return;
      this.marks[v] = gen;
      this.writeAt(m, v, j);
      count++;
    };
    const dirty = this.dirtyVectors();
    for (let i = 0; i < dirty.length; i++) fix(dirty[i]);
    const b = this.base;
    const [from, to] = j < b ? [j + 1, b] : [b + 1, j];
    for (let i = from; i <= to; i++) {
      const vs = this.snaps[i].vecs;
      for (let x = 0; x < vs.length; x++) fix(vs[x]);
    }
    this.clearDirty();
    this.base = j;
    return { vectors: count };
  }

  /** Merges snapshot k into k+1 and removes k (0 < k < last; k must not be the base). */
  merge(k: number): void {
    const a = this.snaps[k];
    const b = this.snaps[k + 1];
    this.bytes -= snapBytes(a) + snapBytes(b);
    const L = this.lanes;
    // non-SRAM state
    if (!b.key) {
      if (a.key) {
        const key = a.key.slice();
        for (let i = 0; i < b.blocks.length; i++) {
          const at = b.blocks[i] * BLOCK;
          const len = Math.min(BLOCK, this.stateLen - at);
          key.set(b.blockData.subarray(i * BLOCK, i * BLOCK + len), at);
        }
        b.key = key;
        b.blocks = new Int32Array(0);
        b.blockData = new Uint8Array(0);
      } else {
        const all = new Map<number, Uint8Array>();
        for (let i = 0; i < a.blocks.length; i++) all.set(a.blocks[i], a.blockData.subarray(i * BLOCK, (i + 1) * BLOCK));
        for (let i = 0; i < b.blocks.length; i++) all.set(b.blocks[i], b.blockData.subarray(i * BLOCK, (i + 1) * BLOCK));
        const blocks = Int32Array.from([...all.keys()].sort((x, y) => x - y));
        const data = new Uint8Array(blocks.length * BLOCK);
        blocks.forEach((blk, i) => data.set(all.get(blk)!, i * BLOCK));
        b.blocks = blocks;
        b.blockData = data;
      }
    }
    // SRAM vectors: the union, b's contents where both have one
    const vs: number[] = [];
    let i = 0;
    let j = 0;
    while (i < a.vecs.length || j < b.vecs.length) {
      const x = i < a.vecs.length ? a.vecs[i] : Infinity;
      const y = j < b.vecs.length ? b.vecs[j] : Infinity;
      if (x < y) { vs.push(x); i++; } else if (y < x) { vs.push(y); j++; } else { vs.push(x); i++; j++; }
    }
    const vecs = Int32Array.from(vs);
    const vecData = new Uint8Array(vecs.length * L);
    for (let n = 0; n < vecs.length; n++) {
      const v = vecs[n];
      const ib = find(b.vecs, v);
      if (ib >= 0) vecData.set(b.vecData.subarray(ib * L, (ib + 1) * L), n * L);
      else {
        const ia = find(a.vecs, v);
        vecData.set(a.vecData.subarray(ia * L, (ia + 1) * L), n * L);
        const list = this.index.get(v)!;
        list[list.indexOf(a)] = b;
        continue;
      }
      const list = this.index.get(v)!;
      const ia = list.indexOf(a);
      if (ia >= 0) list.splice(ia, 1);
    }
    b.vecs = vecs;
    b.vecData = vecData;
    this.snaps.splice(k, 1);
    if (this.base > k) this.base--;
    this.bytes += snapBytes(b);
  }
}
