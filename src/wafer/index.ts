// Wafer-scale SRAM systems (Cerebras-style), analytical, not emulated: presets, the model and
// its check against the vendor's published speeds. See docs/gpu-model.md ("Wafer-scale systems").
export * from './preset.js';
export * from './model.js';
export * from './check.js';
