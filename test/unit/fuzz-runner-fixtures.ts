/**
 * Targets that misbehave on purpose, for the fuzz runner's own tests
 * (fuzz-runner.test.ts): a hang, an unexpected exception, a slow input and an
 * exception thrown outside any input.
 */
import fc from 'fast-check';
import type { FuzzTarget } from '../../bench/fuzz/harness.js';

const bytes = (): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: 1, maxLength: 8 });

function hang(): FuzzTarget {
  let n = 0;
  return {
    name: 'hang', about: 'loops forever on its 50th input', input: bytes,
    run() { if (++n === 50) for (;;) { /* never returns */ } },
  };
}

function throws(): FuzzTarget {
  return {
    name: 'throws', about: 'a TypeError for inputs starting with a byte above 200', input: bytes,
    run(input) { if (input[0]! > 200) (null as unknown as { x: number }).x = 1; },
  };
}

function slow(): FuzzTarget {
  return {
    name: 'slow', about: 'busy for 60 ms on inputs starting with 0xff', input: bytes,
    run(input) { if (input[0] === 0xff) { const t = performance.now(); while (performance.now() - t < 60) { /* busy */ } } },
  };
}

function crashes(): FuzzTarget {
  return {
    name: 'crashes', async: true, about: 'throws from a timer after a few inputs', input: bytes,
    setup() { setTimeout(() => { throw new Error('thrown from a timer'); }, 50); },
    async run() { await new Promise((r) => setTimeout(r, 5)); },
  };
}

export const TARGETS: Record<string, () => FuzzTarget> = { hang, throws, slow, crashes };
