/**
 * Writes of the run log on Deno KV: creating a run, appending batches (pages, and parts of events
 * too big for a page) and patching its summary; `kv_read.ts` reads them back. One atomic
 * operation per appended batch writes the head (small batches go into it, `kv_tail.ts`) and its
 * pages if any, guarded by the head's versionstamp; the writer's cache (`kv_head.ts`) makes a
 * steady relay's append read nothing (docs/architecture.md, "Run log").
 * @module
 */
import type { RunSummary, StoredEvent } from "../events.ts";
import { isTerminalType } from "../event_names.ts";
import {
  AppendConflictError,
  RunClosedError,
  RunNotFoundError,
  UnexpectedStateError,
} from "./errors.ts";
import {
  type EncodedPage,
  encodePages,
  type HeadValue,
  idKeyBytes,
  keys,
  planWrites,
  type RunRecord,
} from "./kv_codec.ts";
import {
  applyPatch,
  indexRunning,
  patchHead,
  touchesSummary,
  withHead,
  type WriterCache,
  type WriterState,
} from "./kv_head.ts";
import { afterIo, GroupCommitter } from "./group_commit.ts";
import { RunTurns } from "./run_turns.ts";
import { type AppendSink, AppendWrite, endsEarly, writeParts } from "./kv_append.ts";
import { backoff, commit } from "./kv_atomic.ts";
import { TAIL_CHARS, tailText } from "./kv_tail.ts";
import type { HeadState } from "./tail_source.ts";
import type { AppendOptions, NewEvent, SummaryPatch, UpdateOptions } from "./store.ts";

/** Tries of a write that lost a version check (another writer won), with jittered backoff. */
const MAX_ATTEMPTS = 30;

/** What {@link KvWriter} needs from the store that owns it. */
export interface KvWriterOptions {
  /** The open KV. */
  kv: Deno.Kv;
  /** How long a new run lives, in ms. */
  ttlMs: number;
  /** Clock (ms since epoch). */
  now: () => number;
  /** The writer's cache of heads and summaries. */
  cache: WriterCache;
  /** Adds this process's own keys to a shared commit (the append clock; `ends`: a run ended). */
  finish: (op: Deno.AtomicOperation, ends: boolean) => void;
  /** Wakes this process's subscribers of run `id` with events it just stored. */
  publish: (id: string, events: StoredEvent[], head: HeadState) => void;
  /** Deletes an expired run's leftovers so its id can be used again; false when it is alive. */
  purgeIfExpired: (id: string) => Promise<boolean>;
}

/** Creates, appends to and patches runs; each run's writes in this process go one at a time. */
export class KvWriter {
  readonly #o: KvWriterOptions;
  /** Each run's writes in this process take turns (see `run_turns.ts`). */
  readonly #turns = new RunTurns();
  /** Merges appends of different runs into shared commits (see `group_commit.ts`). */
  readonly #committer: GroupCommitter;

  /** A writer over `opts.kv`. */
  constructor(opts: KvWriterOptions) {
    this.#o = opts;
    this.#committer = new GroupCommitter({
      commit,
      atomic: () => opts.kv.atomic(),
      finish: opts.finish,
      defer: afterIo,
    });
  }

  /** True while a shared commit is under way (see `GroupCommitter.busy`). */
  get committing(): boolean {
    return this.#committer.busy;
  }

  /** Appends committed so far, and the shared commits that carried them (for `/metrics`). */
  get commitStats(): Readonly<{ commits: number; contributions: number; splits: number }> {
    return this.#committer.stats;
  }

  /** Stores a new run; false when a live run has that id. */
  async create(summary: RunSummary): Promise<boolean> {
    const { ttlMs, cache } = this.#o;
    const id = summary.id;
    return await this.#turns.with(id, async () => {
      for (let attempt = 0; attempt < 2; attempt++) {
        const now = this.#o.now();
        const exp = now + ttlMs;
        const createdMs = Date.parse(summary.createdAt);
        const { relay, ...rest } = summary;
        const record: RunRecord = { summary: { ...rest, eventCount: 0 }, exp };
        const head: HeadValue = patchHead({ seq: 0, done: false, exp }, { relay }, now);
        const updatedMs = Date.parse(summary.updatedAt);
        if (Number.isFinite(updatedMs)) head.at = updatedMs;
        const expireIn = ttlMs;
        const at = Number.isFinite(createdMs) ? createdMs : now;
        const threadId = summary.threadId;
        // Through the group committer: runs started together (a burst of new streams) share
        // one commit instead of queueing one fsync each before their first byte.
        const res = await this.#committer.submit({
          checks: [
            { key: keys.run(id), versionstamp: null },
            { key: keys.head(id), versionstamp: null },
          ],
          apply: (op) => {
            op.set(keys.run(id), record, { expireIn })
              .set(keys.head(id), head, { expireIn })
              .set(keys.index(at, id), exp, { expireIn });
            // The thread index lands with the run: a run is never there without its entry.
            if (threadId !== undefined) {
              op.set(keys.threadIndex(threadId, at, id), exp, { expireIn });
            }
            // Running runs are listed for the takeover sweep from their first write on.
            indexRunning(op, record.summary, head, expireIn, undefined);
          },
          mutations: threadId === undefined ? 4 : 5,
          bytes: 1024 + JSON.stringify(record).length * 3,
          keyBytes: 384 + idKeyBytes(id) * 4 + (threadId === undefined ? 0 : threadId.length * 3),
        }, true);
        if (res.ok) {
          cache.remember(id, {
            head,
            headVs: res.versionstamp,
            summary: record.summary,
            runVs: res.versionstamp,
          });
          return true;
        }
        // The id exists. Deno KV deletes expired keys lazily, so an expired run may still be
        // there: clear it out and create again; a live run means "already started".
        if (!(await this.#o.purgeIfExpired(id))) return false;
      }
      return false;
    });
  }

  /** Appends `events` (and `patch`) to run `id`; see `RunStore.append`. */
  append(
    id: string,
    events: readonly NewEvent[],
    patch?: SummaryPatch,
    opts: AppendOptions = {},
  ): Promise<StoredEvent[]> {
    // The relay's steady case at live rates: a few plain events (they go into the head,
    // kv_tail.ts, no page packed) to a run cached here with no write of it in flight.
    if (events.length > 0 && !this.#turns.busy(id) && !endsEarly(events)) {
      const st = this.#o.cache.peek(id);
      const text = st === undefined ? undefined : tailText(events, TAIL_CHARS);
      if (text !== undefined) return this.#appendCached(id, st!, events, text, patch, opts);
    }
    return this.#append(id, events, patch, opts);
  }

  async #append(
    id: string,
    events: readonly NewEvent[],
    patch: SummaryPatch | undefined,
    opts: AppendOptions,
  ): Promise<StoredEvent[]> {
    if (events.length === 0) {
      if (patch) await this.update(id, patch);
      return [];
    }
    for (let i = 0; i < events.length - 1; i++) {
      if (isTerminalType(events[i].type)) {
        throw new RunClosedError(id, `the batch has events after its terminal ${events[i].type}`);
      }
    }
    // A few plain events go into the head (kv_tail.ts) and need no page packed.
    const text = tailText(events, TAIL_CHARS);
    if (text !== undefined) {
      const turn = this.#turns.acquire(id);
      if (turn) await turn;
      try {
        return await this.#appendRange(id, events, null, text, patch, opts);
      } finally {
        this.#turns.pass(id);
      }
    }
    // Pack and size everything first: an event too big refuses the batch before any write.
    const pages = encodePages(id, idKeyBytes(id), events);
    const ranges = planWrites(pages);
    const turn = this.#turns.acquire(id);
    if (turn) await turn;
    try {
      // One atomic write, no big event: no loop, no extra frames.
      if (ranges.length === 1 && !hasParts(pages)) {
        return await this.#appendRange(id, events, pages, undefined, patch, opts);
      }
      const out: StoredEvent[] = [];
      for (let r = 0; r < ranges.length; r++) {
        const [start, end] = ranges[r];
        const last = r === ranges.length - 1;
        const range = pages.slice(start, end);
        await writeParts(this.#o.kv, this.#o.cache, this.#o.now, id, range);
        const stored = await this.#appendRange(
          id,
          range.flatMap((p) => p.events),
          range,
          undefined,
          last ? patch : undefined,
          opts,
        );
        for (const ev of stored) out.push(ev);
      }
      return out;
    } finally {
      this.#turns.pass(id);
    }
  }

  /** Patches run `id`'s summary and head; see `RunStore.update`. */
  async update(id: string, patch: SummaryPatch, opts: UpdateOptions = {}): Promise<RunSummary> {
    const { kv, cache } = this.#o;
    return await this.#turns.with(id, async () => {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const st = await cache.get(id);
        const now = this.#o.now();
        if (now >= st.head.exp) throw new RunNotFoundError(id, "the run has expired");
        if (opts.expect && !opts.expect(withHead(st.summary, st.head))) {
          // The cache may be stale (another process wrote): decide on what is stored now.
          if (cache.has(id) && attempt === 0) {
            cache.forget(id);
            continue;
          }
          throw new UnexpectedStateError(id, withHead(st.summary, st.head));
        }
        const writeSummary = touchesSummary(patch);
        const summary = writeSummary ? applyPatch(st.summary, patch) : st.summary;
        const head = patchHead(st.head, patch, now);
        const expireIn = st.head.exp - now;
        const res = await commit(() => {
          const op = kv.atomic()
            .check({ key: keys.head(id), versionstamp: st.headVs })
            .set(keys.head(id), head, { expireIn });
          if (writeSummary || opts.expect) {
            op.check({ key: keys.run(id), versionstamp: st.runVs });
          }
          if (writeSummary) {
            op.set(keys.run(id), { summary, exp: st.head.exp } satisfies RunRecord, { expireIn });
          }
          if (writeSummary || "relay" in patch) {
            indexRunning(op, summary, head, expireIn, st.head);
          }
          return op;
        });
        if (res.ok) {
          cache.remember(id, {
            head,
            headVs: res.versionstamp,
            summary,
            runVs: writeSummary ? res.versionstamp : st.runVs,
          });
          return withHead(summary, head);
        }
        cache.forget(id);
        await backoff(attempt);
      }
      throw new AppendConflictError(id, MAX_ATTEMPTS);
    });
  }

  /**
   * The steady append (a small batch, the run cached, no write of it in flight): one object
   * queued for the next commit and the caller's promise, no suspended frames; the outcome comes
   * back through {@link #sink}. A lost version check goes on as {@link #appendRange}.
   */
  #appendCached(
    id: string,
    st: WriterState,
    events: readonly NewEvent[],
    text: string,
    patch: SummaryPatch | undefined,
    opts: AppendOptions,
  ): Promise<StoredEvent[]> {
    let w: AppendWrite;
    try {
      w = new AppendWrite(id, st, events, null, text, patch, opts, this.#o.now());
    } catch (err) {
      return Promise.reject(err);
    }
    this.#turns.take(id);
    return new Promise((resolve, reject) => {
      w.track(this.#sink, resolve, reject);
      this.#committer.enqueue(w, opts.first === true);
    });
  }

  /** Where the steady appends' commits report (one object per writer, never throws). */
  readonly #sink: AppendSink = {
    committed: (w, res) => {
      const id = w.id;
      if (!res.ok) {
        this.#o.cache.forget(id);
        w.resolve(this.#retryRange(id, w.events, w.text!, w.patch, w.opts));
        return;
      }
      try {
        this.#committed(id, w.st, w, res.versionstamp);
      } catch (err) {
        this.#turns.pass(id);
        w.reject(err);
        return;
      }
      this.#turns.pass(id);
      w.resolve(w.stored);
    },
    failed: (w, err) => {
      this.#o.cache.forget(w.id);
      this.#turns.pass(w.id);
      w.reject(err);
    },
  };

  /** {@link #appendCached} after its first try lost a version check (it holds the run's turn). */
  async #retryRange(
    id: string,
    events: readonly NewEvent[],
    text: string,
    patch: SummaryPatch | undefined,
    opts: AppendOptions,
  ): Promise<StoredEvent[]> {
    try {
      await backoff(0);
      return await this.#appendRange(id, events, null, text, patch, opts, 1);
    } finally {
      this.#turns.pass(id);
    }
  }

  /**
   * One atomic write of `events`: packed as `pages`, or, when `text` is their packed text (a
   * small plain batch), into the head. Re-reads and retries when another writer won.
   */
  async #appendRange(
    id: string,
    events: readonly NewEvent[],
    pages: readonly EncodedPage[] | null,
    text: string | undefined,
    patch: SummaryPatch | undefined,
    opts: AppendOptions,
    from = 0,
  ): Promise<StoredEvent[]> {
    const { cache } = this.#o;
    for (let attempt = from; attempt < MAX_ATTEMPTS; attempt++) {
      // The steady case reads nothing: no await (and no microtask) when the run is cached.
      const st = cache.peek(id) ?? await cache.load(id);
      const w = new AppendWrite(id, st, events, pages, text, patch, opts, this.#o.now());
      let res: Deno.KvCommitResult | Deno.KvCommitError;
      try {
        // Shared with other runs' appends waiting at the same time: one fsync for all of them.
        res = await this.#committer.submit(w, opts.first === true);
      } catch (err) {
        cache.forget(id);
        throw err;
      }
      if (!res.ok) {
        cache.forget(id);
        await backoff(attempt);
        continue;
      }
      this.#committed(id, st, w, res.versionstamp);
      return w.stored;
    }
    throw new AppendConflictError(id, MAX_ATTEMPTS);
  }

  /** Caches what `w` stored and wakes this process's subscribers of run `id`. */
  #committed(id: string, st: WriterState, w: AppendWrite, versionstamp: string): void {
    this.#o.cache.remember(id, w.committed(st, versionstamp));
    // The head is a HeadState too (its seq and done).
    this.#o.publish(id, w.stored, w.head);
  }
}

function hasParts(pages: readonly EncodedPage[]): boolean {
  for (const page of pages) if (page.parts.length > 0) return true;
  return false;
}
