/**
 * The run log on Deno KV (DESIGN §7). Layout (see `kv_codec.ts`): `["runs", id]` summary,
 * `["head", id]` head (last seq, relay lease, last move), `["ev", id, lastSeq]` pages of packed
 * events, `["ev_blob", id, blob, i]` parts of events too big for a page, `["runs_by_time",
 * newestFirst, id]` the run list index. Every key expires at the run's deadline (creation +
 * `RUN_TTL_HOURS`), so a run disappears whole.
 *
 * Writes: one atomic operation per appended batch writes its pages and the head, guarded by a
 * version check on the head; the summary is written (and checked) only when the batch changes
 * more than the head says (status, approval, error), so a steady relay writes two rows per
 * upstream read. `eventCount`, `updatedAt` and `relay` of a summary are read from the head. The
 * writer keeps head and summary (and their versionstamps) cached, so a steady relay appends
 * without reading anything; a write from another process (an approval handled elsewhere) fails
 * the check, and the append re-reads and retries.
 *
 * Live tail: this process's appends wake its subscribers directly (`live_tail.ts`). Writes from
 * elsewhere arrive through one `kv.watch` of the head per subscribed run (Deno Deploy; other
 * handles in this process) and, for a local KV file, a poll: Deno's SQLite backend does not notify
 * watches across processes (denoland/deno#21640). To keep the poll cheap with thousands of idle
 * subscribers, every append also rewrites its process's `["log_clock", instance]` key; a poll
 * lists those few keys and re-reads the subscribed runs' heads only when another process's
 * clock moved.
 * @module
 */
import type { RunSummary, StoredEvent } from "../events.ts";
import { isTerminalType } from "../event_names.ts";
import { type Logger, silentLogger } from "../log.ts";
import {
  AppendConflictError,
  InvalidCursorError,
  RunClosedError,
  RunNotFoundError,
  UnexpectedStateError,
} from "./errors.ts";
import {
  decodeCursor,
  decodePage,
  encodeCursor,
  type EncodedPage,
  encodePages,
  type HeadValue,
  idKeyBytes,
  isBlob,
  joinParts,
  keys,
  type PageValue,
  PARTS_PER_WRITE,
  planWrites,
  type RunRecord,
} from "./kv_codec.ts";
import { type Contribution, GroupCommitter } from "./group_commit.ts";
import { type HeadState, LiveTail } from "./live_tail.ts";
import type {
  NewEvent,
  RunListPage,
  RunListQuery,
  RunStore,
  SummaryPatch,
  UpdateOptions,
} from "./store.ts";

/** Where the run log lives when `KV_PATH` is unset outside Deno Deploy. */
export const DEFAULT_KV_PATH = "./data/runs.kv";
/** Default head poll interval for a local KV file (other processes' appends). */
export const DEFAULT_POLL_MS = 500;

/** Options of {@link KvRunStore}. */
export interface KvRunStoreOptions {
  /** Hours a run is kept after its creation (`RUN_TTL_HOURS`). */
  ttlHours: number;
  /** Clock (ms since epoch); tests inject one. */
  now?: () => number;
  /** Follow subscribed runs with `kv.watch` (default true). */
  watch?: boolean;
  /** Poll subscribed runs' heads every this many ms; 0 = never (default 0). */
  pollMs?: number;
  /** Where watch and poll failures are reported. */
  logger?: Logger;
  /** Close the `Deno.Kv` in {@link KvRunStore.close} (default false). */
  ownsKv?: boolean;
}

/** Options of {@link openKvRunStore}. */
export interface OpenKvRunStoreOptions extends Omit<KvRunStoreOptions, "ownsKv"> {
  /**
   * A KV file (its directory is created), `":memory:"` (tests), or undefined for
   * `Deno.openKv()` with no argument (Deno Deploy). Callers apply `KV_PATH`'s default,
   * {@link DEFAULT_KV_PATH}.
   */
  path?: string;
}

/**
 * Opens the run log. Defaults: no watch and no poll for `":memory:"` (no other process can write
 * it); a {@link DEFAULT_POLL_MS} poll for a file; watch only on Deno Deploy.
 */
export async function openKvRunStore(opts: OpenKvRunStoreOptions): Promise<KvRunStore> {
  const { path } = opts;
  const memory = path === ":memory:";
  if (path !== undefined && !memory) await Deno.mkdir(dirname(path), { recursive: true });
  const kv = path === undefined ? await Deno.openKv() : await Deno.openKv(path);
  const local = path !== undefined || !onDeploy();
  return new KvRunStore(kv, {
    ...opts,
    // A local file needs no watch: this process's appends reach its subscribers directly and
    // Deno's SQLite backend does not notify other processes (the poll does). A watch per
    // subscribed run cost a head read per append per run (measured: docs/performance.md).
    watch: opts.watch ?? path === undefined,
    pollMs: opts.pollMs ?? (memory || !local ? 0 : DEFAULT_POLL_MS),
    ownsKv: true,
  });
}

/** What the writer of a run keeps between appends. */
interface WriterState {
  head: HeadValue;
  headVs: string;
  /** The stored summary (its `eventCount`, `updatedAt` and `relay` are the head's). */
  summary: RunSummary;
  runVs: string;
}

/** Summary fields kept in the head: an append or a lease renewal moves them without a summary write. */
const HEAD_FIELDS: ReadonlySet<string> = new Set(["id", "eventCount", "updatedAt", "relay"]);

/** True when `patch` changes something only the summary record holds. */
function touchesSummary(patch: SummaryPatch | undefined): boolean {
  if (!patch) return false;
  for (const key in patch) if (!HEAD_FIELDS.has(key)) return true;
  return false;
}

/** True when `patch` would change a field of the stored summary record. */
function changesSummary(summary: RunSummary, patch: SummaryPatch | undefined): boolean {
  if (!patch) return false;
  const current = summary as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(patch)) {
    if (HEAD_FIELDS.has(key)) continue;
    if (value === undefined ? key in current : !sameJson(current[key], value)) return true;
  }
  return false;
}

function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The head after `patch`'s head fields (`relay`, `updatedAt`) at time `now`. */
function patchHead(head: HeadValue, patch: SummaryPatch | undefined, now: number): HeadValue {
  const out: HeadValue = { ...head, at: now };
  if (patch && "relay" in patch) {
    const relay = patch.relay;
    if (relay) {
      out.owner = relay.owner;
      out.lease = relay.leaseUntil;
    } else {
      delete out.owner;
      delete out.lease;
    }
  }
  if (patch?.updatedAt !== undefined) {
    const at = Date.parse(patch.updatedAt);
    if (Number.isFinite(at)) out.at = at;
  }
  return out;
}

/** The summary as readers see it: the record with the head's count, time and lease. */
function withHead(summary: RunSummary, head: HeadValue | null): RunSummary {
  if (!head) return summary;
  const out: RunSummary = { ...summary, eventCount: head.seq };
  if (head.at !== undefined) out.updatedAt = new Date(head.at).toISOString();
  if (head.owner !== undefined && head.lease !== undefined) {
    out.relay = { owner: head.owner, leaseUntil: head.lease };
  } else {
    delete out.relay;
  }
  return out;
}

/** Tries of a write that lost a version check (another writer won), with jittered backoff. */
const MAX_ATTEMPTS = 30;
const MAX_WRITERS = 1024;
/** Pages per list batch when reading events (a page holds up to ~60 KB). */
const READ_BATCH = 16;
const DELETE_BATCH = 200;
/** Retries of a write SQLite refused as locked (about a second in all). */
const BUSY_RETRIES = 40;

/** The {@link RunStore} on Deno KV. */
export class KvRunStore implements RunStore {
  readonly #kv: Deno.Kv;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #watch: boolean;
  readonly #pollMs: number;
  readonly #log: Logger;
  readonly #ownsKv: boolean;
  readonly #tail: LiveTail;
  /** Runs this process wrote lately: head, summary and their versionstamps (LRU). */
  readonly #writers = new Map<string, WriterState>();
  /** Per-run queue so this process's own writes to one run never conflict with each other. */
  readonly #locks = new Map<string, Promise<void>>();
  #openRuns = 0;
  /** This process's append clock key (see `keys.clock`). */
  readonly #clockKey: Deno.KvKey = keys.clock(crypto.randomUUID());
  /** Other processes' append clocks as last seen by the poll: instance → versionstamp. */
  readonly #clocksSeen = new Map<string, string>();
  /** Merges appends of different runs into shared commits (see `group_commit.ts`). */
  readonly #committer: GroupCommitter;
  #clockTick = 0;
  #pollTimer: ReturnType<typeof setTimeout> | undefined;
  #polling: Promise<void> | undefined;
  #closed = false;

  /** Wraps an open `Deno.Kv` (see {@link openKvRunStore} for the usual way in). */
  constructor(kv: Deno.Kv, opts: KvRunStoreOptions) {
    if (!(opts.ttlHours > 0)) throw new RangeError("ttlHours must be positive");
    this.#kv = kv;
    this.#ttlMs = Math.round(opts.ttlHours * 3_600_000);
    this.#now = opts.now ?? Date.now;
    this.#watch = opts.watch ?? true;
    this.#pollMs = opts.pollMs ?? 0;
    this.#log = opts.logger ?? silentLogger;
    this.#ownsKv = opts.ownsKv ?? false;
    this.#committer = new GroupCommitter({
      commit,
      atomic: () => this.#kv.atomic(),
      finish: (op) => {
        op.set(this.#clockKey, ++this.#clockTick, { expireIn: this.#ttlMs });
      },
    });
    this.#tail = new LiveTail({
      readHead: (id) => this.#readHead(id),
      read: (id, after, limit) => this.read(id, after, limit),
      open: (id) => this.#openRun(id),
    });
  }

  /** Subscriptions open in this process (for `/health` and `/metrics`). */
  get subscriberCount(): number {
    return this.#tail.subscriberCount;
  }

  async create(summary: RunSummary): Promise<boolean> {
    this.#assertOpen();
    const id = summary.id;
    return await this.#withLock(id, async () => {
      for (let attempt = 0; attempt < 2; attempt++) {
        const now = this.#now();
        const exp = now + this.#ttlMs;
        const createdMs = Date.parse(summary.createdAt);
        const { relay, ...rest } = summary;
        const record: RunRecord = { summary: { ...rest, eventCount: 0 }, exp };
        const head: HeadValue = patchHead({ seq: 0, done: false, exp }, { relay }, now);
        const updatedMs = Date.parse(summary.updatedAt);
        if (Number.isFinite(updatedMs)) head.at = updatedMs;
        const expireIn = this.#ttlMs;
        const at = Number.isFinite(createdMs) ? createdMs : now;
        const res = await commit(() => {
          const op = this.#kv.atomic()
            .check({ key: keys.run(id), versionstamp: null })
            .check({ key: keys.head(id), versionstamp: null })
            .set(keys.run(id), record, { expireIn })
            .set(keys.head(id), head, { expireIn })
            .set(keys.index(at, id), exp, { expireIn });
          // The thread index lands with the run: a run is never there without its entry.
          if (summary.threadId !== undefined) {
            op.set(keys.threadIndex(summary.threadId, at, id), exp, { expireIn });
          }
          return op;
        });
        if (res.ok) {
          this.#remember(id, {
            head,
            headVs: res.versionstamp,
            summary: record.summary,
            runVs: res.versionstamp,
          });
          return true;
        }
        // The id exists. Deno KV deletes expired keys lazily, so an expired run may still be
        // there: clear it out and create again; a live run means "already started".
        if (!(await this.#purgeIfExpired(id))) return false;
      }
      return false;
    });
  }

  async get(id: string): Promise<RunSummary | null> {
    this.#assertOpen();
    const [run, head] = await this.#kv.getMany<[RunRecord, HeadValue]>([
      keys.run(id),
      keys.head(id),
    ]);
    const rec = run.value;
    if (!rec || rec.exp <= this.#now()) return null;
    return withHead(rec.summary, head.value);
  }

  async append(
    id: string,
    events: readonly NewEvent[],
    patch?: SummaryPatch,
  ): Promise<StoredEvent[]> {
    this.#assertOpen();
    if (events.length === 0) {
      if (patch) await this.update(id, patch);
      return [];
    }
    for (let i = 0; i < events.length - 1; i++) {
      if (isTerminalType(events[i].type)) {
        throw new RunClosedError(id, `the batch has events after its terminal ${events[i].type}`);
      }
    }
    // Pack and size everything first: an event too big refuses the batch before any write.
    const pages = encodePages(id, idKeyBytes(id), events);
    const ranges = planWrites(pages);
    return await this.#withLock(id, async () => {
      const out: StoredEvent[] = [];
      for (let r = 0; r < ranges.length; r++) {
        const [start, end] = ranges[r];
        const last = r === ranges.length - 1;
        const range = pages.slice(start, end);
        await this.#writeParts(id, range);
        const stored = await this.#appendRange(id, range, last ? patch : undefined);
        for (const ev of stored) out.push(ev);
      }
      return out;
    });
  }

  async update(
    id: string,
    patch: SummaryPatch,
    opts: UpdateOptions = {},
  ): Promise<RunSummary> {
    this.#assertOpen();
    return await this.#withLock(id, async () => {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const st = this.#writers.get(id) ?? await this.#load(id);
        const now = this.#now();
        if (now >= st.head.exp) throw new RunNotFoundError(id, "the run has expired");
        if (opts.expect && !opts.expect(withHead(st.summary, st.head))) {
          // The cache may be stale (another process wrote): decide on what is stored now.
          if (this.#writers.has(id) && attempt === 0) {
            this.#writers.delete(id);
            continue;
          }
          throw new UnexpectedStateError(id, withHead(st.summary, st.head));
        }
        const writeSummary = touchesSummary(patch);
        const summary = writeSummary ? applyPatch(st.summary, patch) : st.summary;
        const head = patchHead(st.head, patch, now);
        const expireIn = st.head.exp - now;
        const res = await commit(() => {
          const op = this.#kv.atomic()
            .check({ key: keys.head(id), versionstamp: st.headVs })
            .set(keys.head(id), head, { expireIn });
          if (writeSummary || opts.expect) {
            op.check({ key: keys.run(id), versionstamp: st.runVs });
          }
          if (writeSummary) {
            op.set(keys.run(id), { summary, exp: st.head.exp } satisfies RunRecord, { expireIn });
          }
          return op;
        });
        if (res.ok) {
          this.#remember(id, {
            head,
            headVs: res.versionstamp,
            summary,
            runVs: writeSummary ? res.versionstamp : st.runVs,
          });
          return withHead(summary, head);
        }
        this.#writers.delete(id);
        await backoff(attempt);
      }
      throw new AppendConflictError(id, MAX_ATTEMPTS);
    });
  }

  async read(id: string, afterSeq: number, limit?: number): Promise<StoredEvent[]> {
    this.#assertOpen();
    const after = Number.isFinite(afterSeq) ? Math.max(0, Math.floor(afterSeq)) : 0;
    const max = limit === undefined ? Infinity : Math.floor(limit);
    if (!(max > 0)) return [];
    const out: StoredEvent[] = [];
    // The first page with a last seq ≥ after + 1 holds event after + 1 (pages are contiguous).
    const iter = this.#kv.list<PageValue>(
      { prefix: keys.pages(id), start: keys.page(id, after + 1) },
      { batchSize: Number.isFinite(max) ? Math.min(READ_BATCH, Math.max(1, max)) : READ_BATCH },
    );
    for await (const entry of iter) {
      const lastSeq = entry.key[2] as number;
      const value = entry.value;
      if (isBlob(value)) {
        const chunks: Uint8Array[] = [];
        for await (const part of this.#kv.list<Uint8Array>({ prefix: keys.blob(id, value.blob) })) {
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

  async setRelayAlive(owner: string, untilMs: number): Promise<void> {
    this.#assertOpen();
    // The key outlives its lease by a minute, so a reader tells "lapsed" from "never seen".
    const expireIn = Math.max(0, untilMs - this.#now()) + 60_000;
    await commit(() => this.#kv.atomic().set(keys.alive(owner), untilMs, { expireIn }));
  }

  async relayAliveUntil(owner: string): Promise<number> {
    this.#assertOpen();
    const entry = await this.#kv.get<number>(keys.alive(owner));
    return typeof entry.value === "number" ? entry.value : 0;
  }

  subscribe(
    id: string,
    afterSeq: number,
    signal?: AbortSignal,
  ): AsyncIterableIterator<StoredEvent> {
    return this.#tail.subscribe(id, afterSeq, signal);
  }

  async list(query: RunListQuery = {}): Promise<RunListPage> {
    this.#assertOpen();
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
    const iter = this.#kv.list<number>(selector, { batchSize: Math.min(limit + 10, 500) })[
      Symbol.asyncIterator
    ]();
    const now = this.#now();
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
          this.#kv.getMany<RunRecord[]>(live.map((c) => keys.run(c.pos[1]))),
          this.#kv.getMany<HeadValue[]>(live.map((c) => keys.head(c.pos[1]))),
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

  async listByThread(threadId: string, limit = 20): Promise<RunSummary[]> {
    this.#assertOpen();
    const max = Math.min(100, Math.max(1, Math.floor(limit)));
    const now = this.#now();
    const ids: string[] = [];
    // Entries of expired runs linger until KV deletes them; an id re-used after its run expired
    // has two entries. Both are skipped here, and the scan is bounded either way.
    const entries = this.#kv.list<number>({ prefix: keys.threadIndexAll(threadId) }, {
      limit: max + 100,
    });
    for await (const entry of entries) {
      const id = entry.key[3] as string;
      if (entry.value <= now || ids.includes(id)) continue;
      ids.push(id);
      if (ids.length === max) break;
    }
    const runs = await Promise.all(ids.map((id) => this.get(id)));
    return runs.filter((r): r is RunSummary => r !== null && r.threadId === threadId);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#tail.close();
    this.#stopPoll();
    await this.#polling;
    this.#writers.clear();
    if (this.#ownsKv) this.#kv.close();
  }

  // -------------------------------------------------------------------------------------------

  /** Writes the parts of the big events among `pages` (before the write that commits them). */
  async #writeParts(id: string, pages: readonly EncodedPage[]): Promise<void> {
    for (const page of pages) {
      if (page.parts.length === 0 || !isBlob(page.value)) continue;
      const blob = page.value.blob;
      const st = this.#writers.get(id) ?? await this.#load(id);
      const expireIn = Math.max(1, st.head.exp - this.#now());
      // Unique blob ids: parts of an attempt that never committed are never read, and expire.
      for (let i = 0; i < page.parts.length; i += PARTS_PER_WRITE) {
        await commit(() => {
          const op = this.#kv.atomic();
          for (let k = i; k < Math.min(i + PARTS_PER_WRITE, page.parts.length); k++) {
            op.set(keys.part(id, blob, k), page.parts[k], { expireIn });
          }
          return op;
        });
      }
    }
  }

  /** One atomic write of consecutive pages; re-reads and retries when another writer won. */
  async #appendRange(
    id: string,
    pages: readonly EncodedPage[],
    patch: SummaryPatch | undefined,
  ): Promise<StoredEvent[]> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const st = this.#writers.get(id) ?? await this.#load(id);
      if (st.head.done) throw new RunClosedError(id);
      // A batch that only repeats the current status (every step_started says "running") costs
      // no summary write.
      const writeSummary = changesSummary(st.summary, patch);
      const now = this.#now();
      if (now >= st.head.exp) throw new RunNotFoundError(id, "the run has expired");
      const expireIn = st.head.exp - now;
      let seq = st.head.seq;
      const stored: StoredEvent[] = [];
      const lastSeqs: number[] = [];
      for (const page of pages) {
        for (const ev of page.events) stored.push({ seq: ++seq, type: ev.type, data: ev.data });
        lastSeqs.push(seq);
      }
      const done = isTerminalType(stored[stored.length - 1].type);
      const head: HeadValue = { ...patchHead(st.head, patch, now), seq, done };
      const summary = writeSummary ? applyPatch(st.summary, patch) : st.summary;
      let bytes = 512;
      let keyBytes = 256;
      for (const page of pages) {
        bytes += page.bytes;
        keyBytes += page.keyBytes;
      }
      if (writeSummary) bytes += JSON.stringify(summary).length * 3;
      const checks: Deno.AtomicCheck[] = [{ key: keys.head(id), versionstamp: st.headVs }];
      if (writeSummary) checks.push({ key: keys.run(id), versionstamp: st.runVs });
      const contribution: Contribution = {
        checks,
        apply: (op) => {
          for (let k = 0; k < pages.length; k++) {
            op.set(keys.page(id, lastSeqs[k]), pages[k].value, { expireIn });
          }
          op.set(keys.head(id), head, { expireIn });
          if (writeSummary) {
            op.set(keys.run(id), { summary, exp: st.head.exp } satisfies RunRecord, { expireIn });
          }
        },
        mutations: pages.length + (writeSummary ? 2 : 1),
        bytes,
        keyBytes,
      };
      let res: Deno.KvCommitResult | Deno.KvCommitError;
      try {
        // Shared with other runs' appends waiting at the same time: one fsync for all of them.
        res = await this.#committer.submit(contribution);
      } catch (err) {
        this.#writers.delete(id);
        throw err;
      }
      if (!res.ok) {
        this.#writers.delete(id);
        await backoff(attempt);
        continue;
      }
      this.#remember(id, {
        head,
        headVs: res.versionstamp,
        summary,
        runVs: writeSummary ? res.versionstamp : st.runVs,
      });
      this.#tail.publish(id, stored, { seq, done });
      return stored;
    }
    throw new AppendConflictError(id, MAX_ATTEMPTS);
  }

  /** Reads a run's head and summary for writing. */
  async #load(id: string): Promise<WriterState> {
    const [head, run] = await this.#kv.getMany<[HeadValue, RunRecord]>([
      keys.head(id),
      keys.run(id),
    ]);
    if (!head.value || !run.value) throw new RunNotFoundError(id);
    if (head.value.exp <= this.#now()) throw new RunNotFoundError(id, "the run has expired");
    const st: WriterState = {
      head: head.value,
      headVs: head.versionstamp!,
      summary: run.value.summary,
      runVs: run.versionstamp!,
    };
    this.#remember(id, st);
    return st;
  }

  #remember(id: string, st: WriterState): void {
    this.#writers.delete(id);
    this.#writers.set(id, st);
    if (this.#writers.size > MAX_WRITERS) {
      this.#writers.delete(this.#writers.keys().next().value!);
    }
  }

  async #readHead(id: string): Promise<HeadState | null> {
    const entry = await this.#kv.get<HeadValue>(keys.head(id));
    return headState(entry.value, this.#now());
  }

  /**
   * Deletes what is left of an expired run (all its keys) so its id can be used again; false
   * when the run is still alive.
   */
  async #purgeIfExpired(id: string): Promise<boolean> {
    const now = this.#now();
    const [head, run] = await this.#kv.getMany<[HeadValue, RunRecord]>([
      keys.head(id),
      keys.run(id),
    ]);
    if ((head.value && head.value.exp > now) || (run.value && run.value.exp > now)) return false;
    this.#writers.delete(id);
    for (const prefix of [keys.pages(id), keys.blobs(id)]) {
      let batch: Deno.KvKey[] = [];
      for await (const entry of this.#kv.list({ prefix })) {
        batch.push(entry.key);
        if (batch.length === DELETE_BATCH) {
          await deleteAll(this.#kv, batch);
          batch = [];
        }
      }
      if (batch.length > 0) await deleteAll(this.#kv, batch);
    }
    await commit(() =>
      this.#kv.atomic()
        .check(head)
        .check(run)
        .delete(keys.head(id))
        .delete(keys.run(id))
    );
    return true;
  }

  /** A run got its first subscriber here: follow its head until the last one leaves. */
  #openRun(id: string): () => Promise<void> {
    this.#openRuns++;
    this.#schedulePoll();
    const stopWatch = this.#watch ? this.#startWatch(id) : undefined;
    return async () => {
      this.#openRuns--;
      if (this.#openRuns === 0) this.#stopPoll();
      await stopWatch?.();
    };
  }

  #startWatch(id: string): () => Promise<void> {
    const reader = this.#kv.watch<[HeadValue]>([keys.head(id)]).getReader();
    let stopped = false;
    const task = (async () => {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          this.#tail.advance(id, headState(value[0].value, this.#now()));
        }
      } catch (err) {
        if (!stopped && !this.#closed) {
          this.#log.warn("run head watch failed", { run_id: id, error: err });
        }
      }
    })();
    return async () => {
      stopped = true;
      await reader.cancel().catch(() => {});
      await task;
    };
  }

  #schedulePoll(): void {
    if (this.#pollMs <= 0 || this.#closed || this.#pollTimer || this.#polling) return;
    if (this.#openRuns === 0) return;
    this.#pollTimer = setTimeout(() => {
      this.#pollTimer = undefined;
      this.#polling = this.#pollOnce().finally(() => {
        this.#polling = undefined;
        this.#schedulePoll();
      });
    }, this.#pollMs);
  }

  #stopPoll(): void {
    clearTimeout(this.#pollTimer);
    this.#pollTimer = undefined;
  }

  /**
   * One poll: when another process's append clock moved since the last poll, re-read the heads
   * of the subscribed runs, ten per read (Deno KV's getMany limit). So thousands of idle
   * subscribers cost one small list per tick while only this process writes.
   */
  async #pollOnce(): Promise<void> {
    try {
      let moved = false;
      for await (const entry of this.#kv.list({ prefix: keys.clocks })) {
        const instance = String(entry.key[1]);
        if (instance === this.#clockKey[1]) continue;
        if (this.#clocksSeen.get(instance) !== entry.versionstamp) {
          this.#clocksSeen.set(instance, entry.versionstamp);
          moved = true;
        }
      }
      if (!moved) return;
      const ids = this.#tail.runIds();
      for (let i = 0; i < ids.length && !this.#closed; i += 10) {
        const slice = ids.slice(i, i + 10);
        const entries = await this.#kv.getMany<HeadValue[]>(slice.map((id) => keys.head(id)));
        const now = this.#now();
        for (let j = 0; j < slice.length; j++) {
          this.#tail.advance(slice[j], headState(entries[j].value, now));
        }
      }
    } catch (err) {
      // Forget what was seen so the next poll re-reads every head instead of missing a move.
      this.#clocksSeen.clear();
      if (!this.#closed) this.#log.warn("run head poll failed", { error: err });
    }
  }

  async #withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(id);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = prev ? prev.then(() => mine) : mine;
    this.#locks.set(id, tail);
    try {
      if (prev) await prev;
      return await fn();
    } finally {
      release();
      if (this.#locks.get(id) === tail) this.#locks.delete(id);
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error("The run store is closed");
  }
}

/** The head as the live tail sees it; null when missing or past its deadline. */
function headState(value: HeadValue | null, now: number): HeadState | null {
  if (!value || value.exp <= now) return null;
  return { seq: value.seq, done: value.done };
}

/** The summary with `patch` applied; `id` and `eventCount` are the log's own. */
function applyPatch(summary: RunSummary, patch: SummaryPatch | undefined): RunSummary {
  const out = { ...summary } as Record<string, unknown>;
  if (patch) {
    for (const [key, value] of Object.entries(patch)) {
      if (key === "id" || key === "eventCount") continue;
      if (value === undefined) delete out[key];
      else out[key] = value;
    }
  }
  return out as unknown as RunSummary;
}

async function deleteAll(kv: Deno.Kv, batch: Deno.KvKey[]): Promise<void> {
  await commit(() => {
    const op = kv.atomic();
    for (const key of batch) op.delete(key);
    return op;
  });
}

/**
 * Commits an atomic operation built by `build`, retrying SQLite's "database is locked": with a
 * KV file shared by processes, a write whose version checks read first cannot upgrade its lock
 * while another process writes, and SQLite fails it at once instead of waiting.
 */
async function commit(
  build: () => Deno.AtomicOperation,
): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
  for (let attempt = 0;; attempt++) {
    try {
      return await build().commit();
    } catch (err) {
      if (attempt >= BUSY_RETRIES || !isBusy(err)) throw err;
      await backoff(attempt + 1);
    }
  }
}

/**
 * A random pause after losing a version check: a writer whose cache is always fresh (it just
 * wrote) would otherwise win every race against one that must re-read first.
 */
function backoff(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(64, 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function isBusy(err: unknown): boolean {
  return err instanceof Error && /database is locked|database is busy/i.test(err.message);
}

function dirname(path: string): string {
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  if (cut < 0) return ".";
  return cut === 0 ? path.slice(0, 1) : path.slice(0, cut);
}

function onDeploy(): boolean {
  try {
    return Deno.env.get("DENO_DEPLOYMENT_ID") !== undefined;
  } catch {
    return false;
  }
}
