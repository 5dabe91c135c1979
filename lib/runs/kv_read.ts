/**
 * Reading a run's log back from Deno KV: the events after a seq, from their pages and the parts
 * of events too big for a page (the layout is `kv_codec.ts`'s; docs/architecture.md, "KV
 * layout"). Separate from the writer because it shares none of its state (locks, cache).
 * @module
 */
import type { StoredEvent } from "../events.ts";
import { decodePage, isBlob, joinParts, keys, type PageValue } from "./kv_codec.ts";

/** Pages per list batch when reading events (a page holds up to ~60 KB). */
const READ_BATCH = 16;

/** Events of run `id` after `afterSeq`, at most `limit`; see `RunStore.read`. */
export async function readEvents(
  kv: Deno.Kv,
  id: string,
  afterSeq: number,
  limit?: number,
): Promise<StoredEvent[]> {
  const after = Number.isFinite(afterSeq) ? Math.max(0, Math.floor(afterSeq)) : 0;
  const max = limit === undefined ? Infinity : Math.floor(limit);
  if (!(max > 0)) return [];
  const out: StoredEvent[] = [];
  // The first page with a last seq ≥ after + 1 holds event after + 1 (pages are contiguous).
  const iter = kv.list<PageValue>(
    { prefix: keys.pages(id), start: keys.page(id, after + 1) },
    { batchSize: Number.isFinite(max) ? Math.min(READ_BATCH, Math.max(1, max)) : READ_BATCH },
  );
  for await (const entry of iter) {
    const lastSeq = entry.key[2] as number;
    const value = entry.value;
    if (isBlob(value)) {
      const chunks: Uint8Array[] = [];
      for await (const part of kv.list<Uint8Array>({ prefix: keys.blob(id, value.blob) })) {
        chunks.push(part.value);
      }
      if (lastSeq > after) {
        out.push({ seq: lastSeq, type: value.t, data: joinParts(id, lastSeq, value, chunks) });
      }
    } else {
      for (const ev of decodePage(value, lastSeq)) {
        if (ev.seq > after) out.push(ev);
        if (out.length >= max) break;
      }
    }
    if (out.length >= max) break;
  }
  return out;
}
