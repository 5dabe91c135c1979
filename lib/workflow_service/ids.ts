/**
 * Deterministic identifiers and money helpers shared by the domain graphs. Business documents get
 * numbers derived from a hash of their inputs, so the same thread and input always produce the same
 * confirmation, invoice or bed, which keeps runs reproducible and tests exact.
 * @module
 */

/** 32-bit FNV-1a hash of `text` (stable across runs and platforms). */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A stable document number such as `HTL-4F9K2A`: `prefix`, then 6 base-36 characters of the hash of `parts`. */
export function docId(prefix: string, ...parts: unknown[]): string {
  const code = hash32(parts.map((p) => String(p)).join("\u241f")).toString(36).toUpperCase();
  return `${prefix}-${code.padStart(6, "0").slice(-6)}`;
}

/** A stable integer in `[0, n)` derived from `parts` (room numbers, bed numbers, rosters). */
export function pick(n: number, ...parts: unknown[]): number {
  return hash32(parts.map((p) => String(p)).join("\u241f")) % n;
}

/** Rounds to cents; amounts are kept as numbers of currency units with two decimals. */
export function cents(amount: number): number {
  return Math.round(amount * 100) / 100;
}

/** `1234.5` → `"$1,234.50"` (USD display text for approval messages). */
export function usd(amount: number): string {
  return `$${
    cents(amount).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })
  }`;
}
