/**
 * The run list on Deno KV and expiry. Every key of a run expires at its deadline (creation +
 * `RUN_TTL_HOURS`) so a run disappears whole; `["runs_by_time", newestFirst, id]` orders the
 * list, and a cursor is the last index position a page looked at.
 * @module
 */
import type { RunSummary } from "../events.ts";
import { InvalidCursorError } from "./errors.ts";
import { type HeadValue, keys, type RunRecord } from "./kv_codec.ts";
import { decodeCursor, encodeCursor } from "./kv_cursor.ts";
import { commit } from "./kv_atomic.ts";
import { withHead, type WriterCache } from "./kv_head.ts";
import type { RunListPage, RunListQuery } from "./store.ts";

/** Keys deleted per atomic operation when clearing an expired run. */
const DELETE_BATCH = 200;

/** One page of the run list, newest first; see `RunStore.list`. */
export async function listRuns(
  kv: Deno.Kv,
  now: number,
  query: RunListQuery = {},
): Promise<RunListPage> {
  const limit = Math.min(500, Math.max(1, Math.floor(query.limit ?? 50)));
  // A rare filter must not scan the whole history in one request: stop after this many index
  // entries and hand back a cursor (a short page with a cursor means "keep going").
  const maxScan = Math.max(1_000, limit * 20);
  let after: [number, string] | null = null;
  if (query.cursor !== undefined) {
    after = decodeCursor(query.cursor);
    if (!after) throw new InvalidCursorError();
  }
  const selector: Deno.KvListSelector = after
    ? { prefix: keys.indexAll, start: [...keys.indexAll, after[0], after[1]] }
    : { prefix: keys.indexAll };
  const iter = kv.list<number>(selector, { batchSize: Math.min(limit + 10, 500) })[
    Symbol.asyncIterator
  ]();
  const runs: RunSummary[] = [];
  let scanned = 0;
  let exhausted = false;
  let leftover = false;
  let lastPos: [number, string] | null = null;

  scan: while (runs.length < limit && scanned < maxScan) {
    // Up to ten index entries, then one getMany for the live ones (Deno KV's getMany limit).
    const chunk: Array<{ pos: [number, string]; live: boolean }> = [];
    while (chunk.length < 10 && scanned < maxScan) {
      const next = await iter.next();
      if (next.done) {
        exhausted = true;
        break;
      }
      const pos: [number, string] = [next.value.key[1] as number, next.value.key[2] as string];
      if (after && pos[0] === after[0] && pos[1] === after[1]) continue;
      scanned++;
      chunk.push({ pos, live: next.value.value > now });
    }
    if (chunk.length === 0) break;
    const live = chunk.filter((c) => c.live);
    const [recs, heads] = live.length > 0
      ? await Promise.all([
        kv.getMany<RunRecord[]>(live.map((c) => keys.run(c.pos[1]))),
        kv.getMany<HeadValue[]>(live.map((c) => keys.head(c.pos[1]))),
      ])
      : [[], []];
    let r = 0;
    for (let i = 0; i < chunk.length; i++) {
      lastPos = chunk[i].pos;
      if (!chunk[i].live) continue;
      const rec = recs[r].value;
      const head = heads[r++].value;
      if (!rec || rec.exp <= now) continue;
      const s = withHead(rec.summary, head);
      if (query.status !== undefined && s.status !== query.status) continue;
      if (query.graph !== undefined && s.graph !== query.graph) continue;
      runs.push(s);
      if (runs.length === limit) {
        leftover = i < chunk.length - 1;
        break scan;
      }
    }
    if (exhausted) break;
  }
  let more = leftover;
  if (!more && !exhausted && lastPos) more = !(await iter.next()).done;
  const pos = lastPos as [number, string] | null;
  return more && pos ? { runs, cursor: encodeCursor(pos[0], pos[1]) } : { runs };
}

/**
 * The runs of one AG-UI thread, newest first, at most `limit` (default 20, at most 100); see
 * `RunStore.listByThread`. Reads `["runs_by_thread", threadId, …]`, written with each run.
 */
export async function listThreadRuns(
  kv: Deno.Kv,
  now: number,
  threadId: string,
  limit = 20,
): Promise<RunSummary[]> {
  const max = Math.min(100, Math.max(1, Math.floor(limit)));
  const ids: string[] = [];
  // Entries of expired runs linger until KV deletes them, and an id used again after its run
  // expired has two: both are skipped, and the scan is bounded either way.
  const entries = kv.list<number>({ prefix: keys.threadIndexAll(threadId) }, { limit: max + 100 });
  for await (const entry of entries) {
    const id = entry.key[3] as string;
    if (entry.value <= now || ids.includes(id)) continue;
    ids.push(id);
    if (ids.length === max) break;
  }
  const runs: RunSummary[] = [];
  // Deno KV's getMany takes at most ten keys: five runs (record and head) at a time.
  for (let i = 0; i < ids.length; i += 5) {
    const slice = ids.slice(i, i + 5);
    const got = await kv.getMany<(RunRecord | HeadValue)[]>(
      slice.flatMap((id) => [keys.run(id), keys.head(id)]),
    );
    for (let k = 0; k < slice.length; k++) {
      const rec = got[2 * k].value as RunRecord | null;
      if (!rec || rec.exp <= now || rec.summary.threadId !== threadId) continue;
      runs.push(withHead(rec.summary, got[2 * k + 1].value as HeadValue | null));
    }
  }
  return runs;
}

/**
 * Deletes what is left of an expired run (all its keys) so its id can be used again; false
 * when the run is still alive. Deno KV deletes expired keys lazily, so they may still be there.
 */
export async function purgeIfExpired(
  kv: Deno.Kv,
  cache: WriterCache,
  now: number,
  id: string,
): Promise<boolean> {
  const [head, run] = await kv.getMany<[HeadValue, RunRecord]>([
    keys.head(id),
    keys.run(id),
  ]);
  if ((head.value && head.value.exp > now) || (run.value && run.value.exp > now)) return false;
  cache.forget(id);
  for (const prefix of [keys.pages(id), keys.blobs(id)]) {
    let batch: Deno.KvKey[] = [];
    for await (const entry of kv.list({ prefix })) {
      batch.push(entry.key);
      if (batch.length === DELETE_BATCH) {
        await deleteAll(kv, batch);
        batch = [];
      }
    }
    if (batch.length > 0) await deleteAll(kv, batch);
  }
  await commit(() =>
    kv.atomic()
      .check(head)
      .check(run)
      .delete(keys.head(id))
      .delete(keys.run(id))
  );
  return true;
}

async function deleteAll(kv: Deno.Kv, batch: Deno.KvKey[]): Promise<void> {
  await commit(() => {
    const op = kv.atomic();
    for (const key of batch) op.delete(key);
    return op;
  });
}

/**
 * The owners of running runs (`""`: runs no process relays), each once, from the running index:
 * one read per owner (each read skips past the owner's runs), not one per run. Owners named only
 * by the older index (a rolling deploy) are read from all of its entries.
 */
export async function runningOwners(kv: Deno.Kv): Promise<string[]> {
  const out: string[] = [];
  const prefix = keys.runningByAll;
  let start: Deno.KvKey | undefined;
  for (;;) {
    const iter = kv.list({ prefix, ...(start ? { start } : {}) }, { limit: 1 });
    const first = (await iter.next()).value as Deno.KvEntry<unknown> | undefined;
    if (!first) break;
    const owner = String(first.key[1]);
    out.push(owner);
    // Every key of this owner sorts before its name followed by NUL (no owner name holds one).
    start = [...prefix, `${owner}\0`];
  }
  for await (const { owner } of oldRunning(kv)) if (!out.includes(owner)) out.push(owner);
  return out;
}

/**
 * The ids of the running runs `owner` relays (`""`: none), from the running index and the older
 * one, read in batches as the caller goes.
 */
export async function* runningOf(kv: Deno.Kv, owner: string): AsyncGenerator<string> {
  const iter = kv.list({ prefix: keys.runningOf(owner) }, { batchSize: 500 });
  for await (const entry of iter) yield String(entry.key[2]);
  for await (const old of oldRunning(kv)) if (old.owner === owner) yield old.id;
}

/** The older index's entries (empty once no gateway of before the owner-keyed index runs). */
async function* oldRunning(kv: Deno.Kv): AsyncGenerator<{ id: string; owner: string }> {
  const iter = kv.list<string>({ prefix: keys.runningOldAll }, { batchSize: 500 });
  for await (const entry of iter) {
    yield { id: String(entry.key[1]), owner: typeof entry.value === "string" ? entry.value : "" };
  }
}
