/**
 * Where a read cut a UTF-8 character in two: the SSE parser (`parse.ts`) decodes each read with
 * one shared, stateless decoder, so it holds back the 1–3 bytes of a character split by the end
 * of a read and prepends them to the next one. Apart from the parser because it knows nothing
 * of SSE, only of UTF-8's byte patterns.
 * @module
 */

/** Where a valid but unfinished UTF-8 sequence starts at the end of `b`, else `b.length`. */
export function splitCharStart(b: Uint8Array): number {
  const n = b.length;
  if (n === 0 || b[n - 1] < 0x80) return n;
  let i = n - 1;
  while (i > n - 4 && i > 0 && (b[i] & 0xc0) === 0x80) i--;
  const lead = b[i];
  const need = lead >= 0xf0 ? (lead <= 0xf4 ? 4 : 0) : lead >= 0xe0 ? 3 : lead >= 0xc2 ? 2 : 0;
  if (n - i >= need) return n; // complete, or invalid: the decoder writes U+FFFD for it now
  if (n - i >= 2) {
    // The second byte's range depends on the lead (no overlongs, surrogates, > U+10FFFF).
    const b1 = b[i + 1];
    if (
      (lead === 0xe0 && b1 < 0xa0) || (lead === 0xed && b1 > 0x9f) ||
      (lead === 0xf0 && b1 < 0x90) || (lead === 0xf4 && b1 > 0x8f)
    ) return n;
  }
  return i;
}
