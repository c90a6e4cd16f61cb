// Read-back decoders for graph tensors that a lowering keeps in its own layout on the chip (the
// attention's cache, scores and probabilities): each turns the chips' tensors back into the
// reference's layout (src/models/reference.ts) so that the run can be checked op by op.
// Tensors in the plain tile layout (context.ts) need none.
import type { CompiledLayer } from './layer.js';

/** `read(rank, chipTensor)`: that chip's tensor, decoded, row-major rows x lanes. */
export type ReadBack = (layer: CompiledLayer, read: (rank: number, tensor: string) => number[]) => Float64Array;

export const READ_BACK = new Map<string, ReadBack>();
