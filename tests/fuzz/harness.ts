// The small fuzz run of every `npm test`: each target FUZZ_RUNS times (default: the target's own
// small figure) from a fixed seed, so CI is deterministic. The long run is `npm run fuzz`.
import { afterAll, it } from 'vitest';
import fc from 'fast-check';
import { CI_SEED, ciRuns, cleanup, targetByName } from './targets.js';

export function fuzzTargets(names: string[]): void {
  afterAll(cleanup);
  for (const name of names) {
    const t = targetByName(name);
    if (!t) throw new Error(`no fuzz target "${name}"`);
    it(`${name}: ${ciRuns(t)} inputs from seed ${CI_SEED}`, async () => {
      await fc.assert(fc.asyncProperty(t.arbitrary(), async (x) => {
        await t.check(x);
      }), {
        numRuns: ciRuns(t),
        seed: CI_SEED,
        endOnFailure: false,
        reporter: (d) => {
          if (!d.failed) return;
          const shown = d.counterexample ? t.show(d.counterexample[0]) : '(none)';
          throw new Error(`fuzz target ${name} failed after ${d.numRuns} inputs (seed ${d.seed}, path ${d.counterexamplePath}):\n${d.errorInstance instanceof Error ? d.errorInstance.message : String(d.errorInstance)}\nminimal input:\n${shown}`);
        },
      });
    });
  }
}
