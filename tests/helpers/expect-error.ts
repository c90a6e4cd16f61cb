// Test helper: expect a call to throw a one-line SfError.
import { expect } from 'vitest';
import { SfError } from '../../src/util/errors.js';

/** Expect `fn` to throw a one-line SfError whose message contains every one of `parts`. */
export function expectSfError(fn: () => unknown, ...parts: string[]): SfError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected an SfError').toBeInstanceOf(SfError);
  const msg = (err as SfError).message;
  expect(msg).not.toContain('\n');
  for (const p of parts) expect(msg).toContain(p);
  return err as SfError;
}
