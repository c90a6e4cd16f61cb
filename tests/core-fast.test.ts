// The core's fast paths give the results of the plain ones: READs from slices no instruction
// writes put references on the streams (not copies) and MXM planes read such rows straight from
// SRAM; resets clear only what the last run wrote; stream payloads left over from before a reset
// are never seen. Each is checked against a variant that takes the plain path.
import { describe, expect, it } from 'vitest';
import { Core } from '../src/chip/core.js';
import { loadCoreWasm } from '../src/chip/wasm-node.js';
import { asm, chip, expectHalted, runAsm } from './helpers/run.js';

const TINY = chip('tiny');

/** An int8 MM (weights from MEM.W3, read two rows a cycle) and an fp16 VXM chain, on tiny. */
const INT8 = `
.tensor a fp16[4,32] @ MEM.W0:0 = random(1, -2, 2)
.tensor b fp16[4,32] @ MEM.W1:0 = random(2, -2, 2)
.tensor s fp16[4,32] @ MEM.E0:0
.tensor w int8[32,32] @ MEM.W3:0 = random(3)
.tensor x int8[32] @ MEM.W2:0 = random(4)
.tensor y int32[32] @ MEM.E1:0, MEM.E2:0
.queue MEM.W1
  @0 READ b[0], E2
  REPEAT 3, 1
  HALT
.queue MEM.W0
  @1 READ a[0], E0
  REPEAT 3, 1
  HALT
.queue VXM.0
  @3 MUL.fp16 E4, E0, E2
  REPEAT 3, 1
  HALT
.queue MEM.E0
  @5 WRITE s[0], E4
  REPEAT 3, 1
  HALT
.queue MEM.W3
  @0 READ w[0], W4, 2, +2
  REPEAT 15, 1
  HALT
.queue MEM.W2
  @16 READ x, W6
  HALT
.queue MXM.W0
  @3 IW.int8 0, W4, 2
  REPEAT 15, 1
  @20 MM.int8 W6, E0
  HALT
.queue MEM.E1
  @31 WRITE y, E0
  HALT
.queue MEM.E2
  @32 WRITE y, E2
  HALT
`;

/** An fp16 MM (weights from MEM.E3) and its fp32 sums. */
const FP16 = (dtype: 'fp16' | 'bf16') => `
.tensor w ${dtype}[16,32] @ MEM.E3:0 = random(5, -1, 1)
.tensor x ${dtype}[32] @ MEM.E2:0 = random(6, -1, 1)
.tensor y fp32[32] @ MEM.W0:0, MEM.W1:0
.queue MEM.E3
  @1 READ w[0], E0
  REPEAT 15, 1
  HALT
.queue MXM.E0
  @4 IW.${dtype} 0, E0
  REPEAT 15, 1
  @20 MM.${dtype} E2, W0
  HALT
.queue MEM.E2
  @16 READ x, E2
  HALT
.queue MEM.W0
  @30 WRITE y, W0
  HALT
.queue MEM.W1
  @31 WRITE y, W2
  HALT
`;

/** The program with one more instruction: a WRITE into an unused vector of `slice` after its
 * other instructions, so that the slice is written (its READs then copy) and nothing else
 * changes. Run unchecked: the WRITE samples a stream nobody wrote (zeros). */
function withWriteTo(src: string, slice: string): string {
  const at = src.indexOf(`.queue ${slice}\n`);
  const halt = src.indexOf('  HALT\n', at);
  const body = `${src.slice(0, halt)}  @60 WRITE spare[0], W7\n${src.slice(halt)}`;
  return body.replace(/\n\.queue /, `\n.tensor spare int8[1,32] @ ${slice}:200\n.queue `);
}

async function run(src: string): Promise<Core> {
  const c = await runAsm(src, { checked: false });
  expectHalted(c);
  return c;
}

describe('fast paths of the core', () => {
  it('READs from a slice no instruction writes (references) give the same results as copies', async () => {
    const fast = await run(INT8);
    const plain = await run(withWriteTo(INT8, 'MEM.W3'));
    for (const t of ['y', 's']) expect(Array.from(plain.readTensorBytes(t)), t).toEqual(Array.from(fast.readTensorBytes(t)));
    expect(fast.readTensorBytes('y').some((v) => v !== 0)).toBe(true);
  });

  it('fp16 and bf16 weight rows read straight from SRAM multiply as copied ones do', async () => {
    for (const dt of ['fp16', 'bf16'] as const) {
      const fast = await run(FP16(dt));
      const plain = await run(withWriteTo(FP16(dt), 'MEM.E3'));
      expect(Array.from(plain.readTensorBytes('y')), dt).toEqual(Array.from(fast.readTensorBytes('y')));
      expect(fast.readTensor('y').values.some((v) => v !== 0), dt).toBe(true);
    }
  });

  it('a reset after a run that wrote over an initialised tensor restores it: the hash equals a fresh core\'s', async () => {
    const program = asm(INT8.replace('.queue MEM.W0\n  @1 READ a[0], E0\n  REPEAT 3, 1\n', '.queue MEM.W0\n  @1 READ a[0], E0\n  REPEAT 3, 1\n  @8 WRITE a[1], E4\n'));
    const a = await Core.create(TINY, loadCoreWasm(), { checked: false });
    a.load(program);
    const fresh = a.hash();
    const initial = Array.from(a.readTensorBytes('a'));
    a.run();
    expectHalted(a);
    expect(Array.from(a.readTensorBytes('a')), 'the run changed a').not.toEqual(initial);
    const after = a.hash();
    a.reset();
    expect(a.hash()).toBe(fresh);
    expect(Array.from(a.readTensorBytes('a'))).toEqual(initial);
    a.run();
    expect(a.hash()).toBe(after);
    const b = await Core.create(TINY, loadCoreWasm(), { checked: false });
    b.load(program);
    b.run();
    expect(b.hash()).toBe(after);
  });

  it('an unchecked read of a stream slot nobody wrote since the reset sees zeros, whatever ran before', async () => {
    // MEM.E3 writes what E5 carries on cycle 40: nothing in this program
    const empty = `
.tensor z int8[1,32] @ MEM.E3:0 = random(9)
.queue MEM.E3
  @40 WRITE z[0], E5
  HALT
`;
    const c = await Core.create(TINY, loadCoreWasm(), { checked: false });
    c.load(asm(empty));
    c.run();
    const first = { hash: c.hash(), z: Array.from(c.readTensorBytes('z')) };
    expect(first.z.every((v) => v === 0)).toBe(true);
    // fill the stream slots with values, then the same program again
    c.load(asm(INT8));
    c.run();
    c.load(asm(empty));
    c.run();
    expect(c.hash()).toBe(first.hash);
    expect(Array.from(c.readTensorBytes('z'))).toEqual(first.z);
  });
});
