/**
 * Command lines of the traffic agents the namespace tests run with `ip netns exec`
 * (fwd-tcp, paced-tcp, stream): `MODE --key value …`, and their one JSON result line.
 */
export type Args = Record<string, string>;

export function parseArgs(argv: string[]): { mode: string; a: Args } {
  const [mode, ...rest] = argv;
  const a: Args = {};
  for (let i = 0; i < rest.length; i += 2) {
    if (!rest[i].startsWith('--') || rest[i + 1] === undefined) throw new Error(`bad argument ${rest[i]}`);
    a[rest[i].slice(2)] = rest[i + 1];
  }
  return { mode: mode ?? '', a };
}

/** The number given as --k, or `dflt` when it is absent; throws when neither gives a finite number. */
export function num(a: Args, k: string, dflt?: number): number {
  const v = a[k] === undefined ? dflt : Number(a[k]);
  if (v === undefined || !Number.isFinite(v)) throw new Error(`--${k} needs a number`);
  return v;
}

/** Prints the result as one JSON line, then exits with `code`. */
export function finish(result: Record<string, unknown>, code = 0): never {
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(code));
  // process.exit runs from the write callback; keep the type checker satisfied.
  return undefined as never;
}
