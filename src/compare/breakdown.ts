// The per-operator breakdown shared by every side of a comparison: the graph's ops grouped into
// the kernels a tuned GPU stack launches (src/gpu/model.ts KERNELS: fused QKV, fused gate/up,
// fused attention, the residual add with the RMSNorm after it), plus the pieces outside the layer
// graph. Each side reports wall time per group for one step, and the groups add up to the step.
import { KERNELS } from '../gpu/model.js';
import type { OpTiming } from '../compiler/layer.js';

/** Breakdown rows, in the order a token passes them. */
export const GROUPS = [
  'embedding',
  ...KERNELS.map((k) => k.name),
  'links',
  'final_norm',
  'lm_head',
  'other',
] as const;
export type Group = (typeof GROUPS)[number];

export const GROUP_NOTES: Record<string, string> = {
  links: 'SRAM: C2C hops between pipeline stages; GPU: tensor-parallel all-reduce / all-gather',
  other: 'SRAM: queue drain and superlane stagger; GPU: launches, in-graph gaps and the step overhead',
};

const OP_GROUP = new Map<string, Group>();
for (const k of KERNELS) for (const op of k.ops) OP_GROUP.set(op, k.name as Group);
OP_GROUP.set('final_norm', 'final_norm');
OP_GROUP.set('head_quant', 'final_norm');
OP_GROUP.set('lm_head', 'lm_head');

/** The breakdown group of a graph op (layer or head). */
export function groupOf(op: string): Group {
  return OP_GROUP.get(op) ?? 'other';
}

/** The group of a GPU kernel name (decodeStep's wallByKernel). */
export function gpuGroupOf(kernel: string): Group {
  if (kernel === 'attn_reduce') return 'attention';
  if (kernel === 'all_reduce' || kernel === 'all_gather') return 'links';
  if ((GROUPS as readonly string[]).includes(kernel)) return kernel as Group;
  return 'other';
}

export type Breakdown = Partial<Record<Group, number>>;

export function addTo(b: Breakdown, g: Group, v: number): void {
  b[g] = (b[g] ?? 0) + v;
}

/**
 * A program's cycles 0 .. span split over its ops by wall time: ops may overlap (independent
 * ops run together), so each cycle is shared equally by the ops active on it; cycles no op covers
 * go to 'other'. The shares add up to `span`.
 */
export function opShares(ops: readonly OpTiming[], span: number): Breakdown {
  const out: Breakdown = {};
  const edges = [...new Set([0, span, ...ops.flatMap((o) => [Math.min(o.start, span), Math.min(o.end, span)])])].sort((a, b) => a - b);
  for (let i = 0; i + 1 < edges.length; i++) {
    const a = edges[i]!;
    const b = edges[i + 1]!;
    const active = ops.filter((o) => o.start <= a && o.end >= b && o.end > o.start);
    if (active.length === 0) addTo(out, 'other', b - a);
    else for (const o of active) addTo(out, groupOf(o.name), (b - a) / active.length);
  }
  return out;
}
