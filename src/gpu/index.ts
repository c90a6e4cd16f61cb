// The HBM accelerator model in one import: presets, the per-kernel roofline over the layer graph,
// tensor parallelism and the calibration table. See docs/gpu-model.md and docs/calibration.md.
export * from './preset.js';
export * from './model.js';
export * from './tp.js';
export * from './calibrate.js';
export { renderCalibrationDoc } from './calibration-doc.js';
