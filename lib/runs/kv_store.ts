/**
 * The run log on Deno KV: a {@link RunStore} composed of its parts, each with one job.
 * Layout (see `kv_codec.ts`; docs/architecture.md, "Run log"): `["runs", id]` summary,
 * `["head", id]` head (last seq, relay lease, last move, the newest events), `["ev", id, lastSeq]`
 * pages of packed events, `["ev_blob", id, blob, i]` parts of events too big for a page,
 * `["runs_by_time", newestFirst, id]` the run list index.
 *
 * - `kv_head.ts`: head and summary, and the writer's cache of both;
 * - `kv_commit.ts`: creating, appending (pages and parts), patching; `kv_atomic.ts` its retries;
 * - `kv_tail.ts`: the newest events kept in the head until they make a page;
 * - `kv_read.ts`: reading events back (pages, then the head's);
 * - `kv_list.ts`: the run list and clearing expired runs; `kv_cursor.ts` its cursors;
 * - `kv_follow.ts`: following runs other processes write (`kv.watch` and the clock poll);
 * - `live_tail.ts`: waking this process's subscribers.
 * @module
 */
import type { RunSummary, StoredEvent } from "../events.ts";
import { type Logger, silentLogger } from "../log.ts";
import { type HeadValue, keys, type RunRecord } from "./kv_codec.ts";
import { commit } from "./kv_atomic.ts";
import { KvWriter } from "./kv_commit.ts";
import { readEvents } from "./kv_read.ts";
import { KvFollower } from "./kv_follow.ts";
import { withHead, WriterCache } from "./kv_head.ts";
import { listRuns, listThreadRuns, purgeIfExpired, runningOf, runningOwners } from "./kv_list.ts";
import { LiveTail } from "./live_tail.ts";
import type {
  AppendOptions,
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
  /** Least time between two moves of the append clock, ms (default 100; 0: every commit). */
  clockEveryMs?: number;
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

/** The {@link RunStore} on Deno KV. */
export class KvRunStore implements RunStore {
  readonly #kv: Deno.Kv;
  readonly #now: () => number;
  readonly #ownsKv: boolean;
  readonly #cache: WriterCache;
  readonly #writer: KvWriter;
  readonly #follower: KvFollower;
  readonly #tail: LiveTail;
  #closed = false;

  /** Wraps an open `Deno.Kv` (see {@link openKvRunStore} for the usual way in). */
  constructor(kv: Deno.Kv, opts: KvRunStoreOptions) {
    if (!(opts.ttlHours > 0)) throw new RangeError("ttlHours must be positive");
    const ttlMs = Math.round(opts.ttlHours * 3_600_000);
    const now = opts.now ?? Date.now;
    this.#kv = kv;
    this.#now = now;
    this.#ownsKv = opts.ownsKv ?? false;
    this.#cache = new WriterCache(kv, now);
    this.#follower = new KvFollower({
      kv,
      now,
      ttlMs,
      watch: opts.watch ?? true,
      pollMs: opts.pollMs ?? 0,
      clockEveryMs: opts.clockEveryMs,
      logger: opts.logger ?? silentLogger,
      tail: () => this.#tail,
      closed: () => this.#closed,
      committing: () => this.#writer.committing,
    });
    this.#writer = new KvWriter({
      kv,
      ttlMs,
      now,
      cache: this.#cache,
      finish: (op, ends) => this.#follower.tick(op, ends),
      publish: (id, events, head) => this.#tail.publish(id, events, head),
      purgeIfExpired: (id) => purgeIfExpired(kv, this.#cache, now(), id),
    });
    this.#tail = new LiveTail({
      readHead: (id) => this.#follower.readHead(id),
      // Up to a head the tail has seen, this process's writer may hold the events already.
      read: (id, after, limit, until) => {
        this.#assertOpen();
        const cached = this.#cachedHead(id);
        return readEvents(kv, id, after, limit, cached && cached.seq >= until ? cached : undefined);
      },
      open: (id) => this.#follower.open(id),
    });
  }

  /** Subscriptions open in this process (for `/health` and `/metrics`). */
  get subscriberCount(): number {
    return this.#tail.subscriberCount;
  }

  /**
   * Appends committed since the store opened (`contributions`) and the KV commits that carried
   * them (`commits`; several runs' appends share one under load, see `group_commit.ts`).
   */
  get commitStats(): Readonly<{ commits: number; contributions: number; splits: number }> {
    return this.#writer.commitStats;
  }

  async create(summary: RunSummary): Promise<boolean> {
    this.#assertOpen();
    return await this.#writer.create(summary);
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

  append(
    id: string,
    events: readonly NewEvent[],
    patch?: SummaryPatch,
    opts?: AppendOptions,
  ): Promise<StoredEvent[]> {
    // Not async: the relay's hot path, one promise and frame less per append.
    if (this.#closed) return Promise.reject(new Error("The run store is closed"));
    return this.#writer.append(id, events, patch, opts);
  }

  committing(): boolean {
    return this.#writer.committing;
  }

  async update(
    id: string,
    patch: SummaryPatch,
    opts: UpdateOptions = {},
  ): Promise<RunSummary> {
    this.#assertOpen();
    return await this.#writer.update(id, patch, opts);
  }

  /** The head this process's writer last committed for run `id`, when it is cached and alive. */
  #cachedHead(id: string): HeadValue | undefined {
    const head = this.#cache.peek(id)?.head;
    return head && head.exp > this.#now() ? head : undefined;
  }

  async read(id: string, afterSeq: number, limit?: number): Promise<StoredEvent[]> {
    this.#assertOpen();
    return await readEvents(this.#kv, id, afterSeq, limit);
  }

  async setRelayAlive(owner: string, untilMs: number): Promise<void> {
    this.#assertOpen();
    // The key outlives its lease by a minute, so a reader tells "lapsed" from "never seen".
    const expireIn = Math.max(0, untilMs - this.#now()) + 60_000;
    await commit(() => {
      const op = this.#kv.atomic().set(keys.alive(owner), untilMs, { expireIn });
      // A release (0) also tells watchers, so they take the runs over without waiting a sweep.
      if (untilMs === 0) op.set(keys.handover, { owner, at: this.#now() }, { expireIn: 60_000 });
      return op;
    });
  }

  watchHandovers(listener: () => void): () => void {
    this.#assertOpen();
    const reader = this.#kv.watch([keys.handover]).getReader();
    let first = true;
    (async () => {
      try {
        for (;;) {
          const { done } = await reader.read();
          if (done) return;
          // The first value is what is stored now, not a new handover.
          if (!first) listener();
          first = false;
        }
      } catch {
        // closed with the store
      }
    })();
    return () => void reader.cancel().catch(() => {});
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
  ): AsyncIterableIterator<StoredEvent[]> {
    return this.#tail.subscribe(id, afterSeq, signal);
  }

  async runningOwners(): Promise<string[]> {
    this.#assertOpen();
    return await runningOwners(this.#kv);
  }

  runningOf(owner: string): AsyncIterable<string> {
    this.#assertOpen();
    return runningOf(this.#kv, owner);
  }

  async list(query: RunListQuery = {}): Promise<RunListPage> {
    this.#assertOpen();
    return await listRuns(this.#kv, this.#now(), query);
  }

  async listByThread(threadId: string, limit?: number): Promise<RunSummary[]> {
    this.#assertOpen();
    return await listThreadRuns(this.#kv, this.#now(), threadId, limit);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#tail.close();
    await this.#follower.close();
    this.#cache.clear();
    if (this.#ownsKv) this.#kv.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error("The run store is closed");
  }
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
