// Fuzz (small, fixed seed): the text and binary program formats, presets, configs, safetensors.
import { describe } from 'vitest';
import { fuzzTargets } from './harness.js';

describe('fuzz: parsers and loaders', () => {
  fuzzTargets(['asm-text', 'container', 'chip-preset', 'system-preset', 'gpu-preset', 'model-config', 'safetensors']);
});
