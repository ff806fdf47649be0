/**
 * Negative reason codes returned by the checked validators in src/wire.
 * Validators return a non-negative length or offset on success.
 */
export const WIRE_TRUNCATED = -1;
export const WIRE_BAD_VERSION = -2;
export const WIRE_BAD_HEADER_LEN = -3;
export const WIRE_BAD_TOTAL_LEN = -4;
export const WIRE_UNSUPPORTED = -5;
export const WIRE_BAD_CHECKSUM = -6;
export const WIRE_TOO_MANY_HEADERS = -7;
export const WIRE_BAD_FIELD = -8;
/** A looked-for element (e.g. an ND option) is absent; not a format error. */
export const WIRE_NOT_FOUND = -9;

const NAMES = [
  'ok',
  'truncated',
  'bad-version',
  'bad-header-len',
  'bad-total-len',
  'unsupported',
  'bad-checksum',
  'too-many-headers',
  'bad-field',
  'not-found',
];

/** Word for a reason code, for logs and counters at the edges. */
export function wireErrorName(code: number): string {
  if (code >= 0) return 'ok';
  return NAMES[-code] ?? `error(${code})`;
}
