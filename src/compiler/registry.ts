// Lowerings registered by their own modules (attention.ts), looked up by the driver (layer.ts):
// a registry breaks the import cycle between the driver and those modules.
import type { GraphOp, LayerGraph } from '../models/graph.js';
import type { Lowering } from './context.js';

/** The attention ops' lowerings, by graph op name. */
export const ATTENTION = new Map<string, Lowering>();

/** Inputs of an op that its lowering waits for row by row itself (the rows' readiness in the
 * Schedule), by graph op name: the driver starts the op without waiting for them to be complete
 * (decode attention takes the past cache while kv_append still writes the new position). */
export const OWN_WAIT = new Map<string, (op: GraphOp, graph: LayerGraph) => string[]>();
