/**
 * Command lines of the traffic agents run in lab namespaces with `ip netns exec`
 * (`[MODE] --key value …`), their one JSON result line, and their one-line errors.
 */
export type Args = Record<string, string>;

/**
 * MODE (absent when the first word is an option) and the --key value pairs; with `known`,
 * any other key is an error.
 */
export function parseArgs(argv: string[], known?: readonly string[]): { mode: string; a: Args } {
  const rest = argv[0] !== undefined && !argv[0].startsWith('--') ? argv.slice(1) : argv;
  const mode = rest === argv ? '' : argv[0];
  const a: Args = {};
  for (let i = 0; i < rest.length; i += 2) {
    if (!rest[i].startsWith('--') || rest[i + 1] === undefined) throw new Error(`bad argument ${rest[i]}`);
    const k = rest[i].slice(2);
    if (known && !known.includes(k)) throw new Error(`bad argument ${rest[i]}`);
    a[k] = rest[i + 1];
  }
  return { mode, a };
}

/** The number given as --k, or `dflt` when it is absent; throws when neither gives a finite number. */
export function num(a: Args, k: string, dflt?: number): number {
  const v = a[k] === undefined ? dflt : Number(a[k]);
  if (v === undefined || !Number.isFinite(v)) throw new Error(`--${k} needs a number`);
  return v;
}

/** The string given as --k; throws when it is absent. */
export function str(a: Args, k: string): string {
  const v = a[k];
  if (v === undefined || v === '') throw new Error(`--${k} is required`);
  return v;
}

/** Prints the result as one JSON line, then exits with `code`. */
export function finish(result: Record<string, unknown>, code = 0): never {
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(code));
  // process.exit runs from the write callback; keep the type checker satisfied.
  return undefined as never;
}

/**
 * Runs the function for `mode`; an unknown mode or a bad argument ends the process with
 * "NAME: problem" on stderr and exit code 2.
 */
export function runAgent(name: string, argv: string[], modes: Record<string, (a: Args) => void>, known?: readonly string[]): void {
  try {
    const { mode, a } = parseArgs(argv, known);
    const run = Object.hasOwn(modes, mode) ? modes[mode] : undefined;
    if (!run) {
      const names = Object.keys(modes).filter(Boolean);
      throw new Error(names.length ? `unknown mode '${mode}': expected ${names.join(', ')}` : `bad argument ${mode}`);
    }
    run(a);
  } catch (e) {
    process.stderr.write(`${name}: ${(e as Error).message}\n`);
    process.exit(2);
  }
}
