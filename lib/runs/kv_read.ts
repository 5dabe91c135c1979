/**
 * Reading a run's log back from Deno KV: the events after a seq, from their pages, the parts of
 * events too big for a page and the newest events the head holds (the layout is `kv_codec.ts`'s;
 * docs/architecture.md, "KV layout"). Separate from the writer because it shares none of its
 * state (locks, cache).
 * @module
 */
import type { StoredEvent } from "../events.ts";
import { decodePage, type HeadValue, isBlob, joinParts, keys, type PageValue } from "./kv_codec.ts";
import { flushedSeq, pushTail } from "./kv_tail.ts";

/** Pages per list batch when reading events (a page holds up to ~60 KB). */
const READ_BATCH = 16;

/**
 * Events of run `id` after `afterSeq`, at most `limit`; see `RunStore.read`. `cached` is a head
 * this process's writer committed, at least as new as one just read (the caller checks): when
 * the events wanted start inside its tail, they come from it without a read (the log is
 * append-only, so they are the log's own).
 */
export async function readEvents(
  kv: Deno.Kv,
  id: string,
  afterSeq: number,
  limit?: number,
  cached?: HeadValue,
): Promise<StoredEvent[]> {
  const after = Number.isFinite(afterSeq) ? Math.max(0, Math.floor(afterSeq)) : 0;
  const max = limit === undefined ? Infinity : Math.floor(limit);
  if (!(max > 0)) return [];
  const out: StoredEvent[] = [];
  if (cached && after < cached.seq && after >= flushedSeq(cached)) {
    pushTail(cached, after, max, out);
    return out;
  }
  // The head first: the pages it counts on (events up to `flushed`) were written no later than
  // it and are never rewritten, so reading them after it sees them all; a page a later write
  // adds holds events the head still had, and its events past `flushed` are skipped.
  const head = (await kv.get<HeadValue>(keys.head(id))).value;
  const flushed = head ? flushedSeq(head) : Infinity;
  if (after < flushed) await readPages(kv, id, after, Math.min(max, flushed - after), out);
  if (head) pushTail(head, after, max, out);
  return out;
}

/** Events `after + 1 ..` of run `id` from its page rows, until `out` holds `max`. */
async function readPages(
  kv: Deno.Kv,
  id: string,
  after: number,
  max: number,
  out: StoredEvent[],
): Promise<void> {
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
}
