// Fuzz (small, fixed seed): command lines, in-process and as a child process.
import { describe } from 'vitest';
import { fuzzTargets } from './harness.js';

describe('fuzz: the command line', () => {
  fuzzTargets(['cli', 'model-cli']);
});
