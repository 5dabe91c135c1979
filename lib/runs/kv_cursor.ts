/**
 * The run list's cursor: the opaque token `RunStore.list` hands back, naming the last index
 * position (`["runs_by_time", newestFirst, id]`) a page scanned. Apart from the run log's layout
 * (`kv_codec.ts`) because it is what clients hold, not what Deno KV stores.
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A list cursor: the index position of the last run scanned. */
export function encodeCursor(time: number, id: string): string {
  const bytes = encoder.encode(JSON.stringify([time, id]));
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");
}

/** Reads a cursor made by {@link encodeCursor}; null when it is not one. */
export function decodeCursor(cursor: string): [number, string] | null {
  try {
    const b64 = cursor.replaceAll("-", "+").replaceAll("_", "/");
    const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    const value = JSON.parse(decoder.decode(bytes));
    if (
      Array.isArray(value) && value.length === 2 && Number.isFinite(value[0]) &&
      typeof value[1] === "string"
    ) return [value[0], value[1]];
  } catch {
    // fall through: not a cursor of ours
  }
  return null;
}
