// The models layer in one import: configs, the layer graph, quantisation, weights, safetensors,
// the reference and its error bounds. See docs/models.md.
export * from './config.js';
export * from './graph.js';
export * from './quant.js';
export * from './safetensors.js';
export * from './weights.js';
export * from './reference.js';
export * from './bounds.js';
