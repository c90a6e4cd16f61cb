// Lowerings registered by their own modules (attention.ts), looked up by the driver (layer.ts):
// a registry breaks the import cycle between the driver and those modules.
import type { Lowering } from './context.js';

/** The attention ops' lowerings, by graph op name. */
export const ATTENTION = new Map<string, Lowering>();
