// Fuzz (small, fixed seed): hostile programs on the core, one chip and four in lockstep.
import { describe } from 'vitest';
import { fuzzTargets } from './harness.js';

describe('fuzz: the core', () => {
  fuzzTargets(['core', 'system-run']);
});
