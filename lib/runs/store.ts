/**
 * The run log's contract, independent of where it is stored (docs/architecture.md, "Run log").
 * One direction of flow:
 * the relay appends what the upstream says; every client connection subscribes (replay, then
 * live tail). The Deno KV implementation is `kv_store.ts`.
 * @module
 */
import type { RunSummary, StoredEvent } from "../events.ts";

export * from "./errors.ts";

/** An event to append: its type and its data as JSON text (stored as is, never re-serialized). */
export interface NewEvent {
  /** The SSE event name. */
  type: string;
  /** The data's JSON text. */
  data: string;
  /**
   * The upstream's own `id:` of the frame the event came from, when it had one (a relay that
   * rejoins the upstream dedupes by it). Optional data: a store may ignore it.
   */
  upstreamId?: string;
}

/** Options of {@link RunStore.append}. */
export interface AppendOptions {
  /**
   * Append only while the run's relay is this process (a fence): when another process has
   * taken the relay over, nothing is written and {@link RelayFencedError} is thrown.
   */
  relayOwner?: string;
  /**
   * Commit ahead of other runs' appends waiting for a commit (a new stream's first events: its
   * first byte should not queue behind a busy gateway's backlog).
   */
  first?: boolean;
}

/**
 * A change to a run's summary. `id` and `eventCount` belong to the log and are ignored; a key
 * present with the value `undefined` removes that field (e.g. `pendingApproval: undefined`).
 */
export type SummaryPatch = Partial<RunSummary>;

/** Options of {@link RunStore.update}. */
export interface UpdateOptions {
  /** The change is made only when the current summary passes this test. */
  expect?: (current: RunSummary) => boolean;
}

/** Filters and page of {@link RunStore.list}. */
export interface RunListQuery {
  /** Only runs with this status. */
  status?: RunSummary["status"];
  /** Only runs of this graph. */
  graph?: string;
  /** Page size (default 50, at most 500). */
  limit?: number;
  /** The `cursor` of the previous page. */
  cursor?: string;
}

/** One page of runs, newest first. */
export interface RunListPage {
  /** The runs of this page. */
  runs: RunSummary[];
  /** Present when more runs may follow: pass it back to get the next page. */
  cursor?: string;
}

/** The run log: summaries, the ordered events of each run, and live subscriptions. */
export interface RunStore {
  /**
   * Creates a run with `eventCount` 0. Atomic and idempotent: false when the id already exists,
   * and of two concurrent creates of one id exactly one returns true.
   */
  create(summary: RunSummary): Promise<boolean>;

  /** The run's summary, or null when it does not exist (or has expired). */
  get(id: string): Promise<RunSummary | null>;

  /**
   * Appends events with seq = head+1, head+2 … and, in the same atomic write, the new head and
   * the summary (`eventCount`, `updatedAt`, then `patch`). Call it once per upstream read (a
   * batch), not per event. A batch larger than one atomic write is split into consecutive
   * atomic writes (each a whole prefix; the patch lands with the last one).
   * @throws {RunNotFoundError} the run does not exist.
   * @throws {RunClosedError} the run already holds its terminal event, or the batch has events
   *   after a terminal one.
   * @throws {EventTooLargeError} one event cannot fit one atomic write (nothing is written).
   * @throws {AppendConflictError} other writers kept winning (rare; safe to retry).
   * @throws {RelayFencedError} `opts.relayOwner` no longer holds the run's relay.
   * The last `upstreamId` among `events` is committed with them (`RunSummary.lastUpstreamId`).
   */
  append(
    id: string,
    events: readonly NewEvent[],
    patch?: SummaryPatch,
    opts?: AppendOptions,
  ): Promise<StoredEvent[]>;

  /**
   * True while this process's appends are being committed (a shared commit under way, others
   * queued behind it): the relay then reads a fast stream a little later (`pump.ts`). Optional:
   * a store without it is never busy.
   */
  committing?(): boolean;

  /**
   * Changes only the summary, atomically (a version check; retried on conflict). Allowed after
   * the run ended. Returns the new summary. With `opts.expect`, the change is made only if the
   * summary as stored at that moment passes it (compare-and-set: of two concurrent claims of
   * one approval, exactly one wins).
   * @throws {RunNotFoundError} the run does not exist.
   * @throws {UnexpectedStateError} `opts.expect` refused the stored summary.
   */
  update(id: string, patch: SummaryPatch, opts?: UpdateOptions): Promise<RunSummary>;

  /** The run's events with seq > `afterSeq`, ascending, at most `limit` (default: all). */
  read(id: string, afterSeq: number, limit?: number): Promise<StoredEvent[]>;

  /**
   * Replays the events after `afterSeq`, then tails appends live, from this process or any other
   * sharing the storage, in batches: each `next()` yields every event available at that moment
   * (a replay page, or a whole local append), never an empty batch, ascending, never skipping or
   * repeating an event. A terminal event ends its batch and the subscription. Also ends at once
   * when the run already ended before `afterSeq`, when `signal` aborts, on `return()`, or when
   * the store closes. The first `next()` rejects with {@link RunNotFoundError} when the run does
   * not exist.
   */
  subscribe(
    id: string,
    afterSeq: number,
    signal?: AbortSignal,
  ): AsyncIterableIterator<StoredEvent[]>;

  /**
   * Records that the gateway process `owner` reads its runs' upstream streams until `untilMs`
   * (0: it has stopped). One key per process, not per run: a relay renews a few bytes every few
   * seconds however many runs it holds.
   */
  setRelayAlive(owner: string, untilMs: number): Promise<void>;

  /** Until when the gateway process `owner` said it is alive (ms since epoch; 0 when unknown). */
  relayAliveUntil(owner: string): Promise<number>;

  /**
   * The gateway processes that relay runs whose status is `running`, each once (`""`: runs no
   * process relays). From an index kept in the same writes as each status and relay change, so
   * a takeover sweep finds runs that nobody watches without scanning the run list, and costs
   * one read per owner, not one per run, while every owner is alive.
   */
  runningOwners(): Promise<string[]>;

  /** The ids of the running runs that `owner` relays (`""`: none), all of them, in batches. */
  runningOf(owner: string): AsyncIterable<string>;

  /**
   * Calls `listener` when a gateway process gives its runs up (`setRelayAlive(owner, 0)`: a
   * graceful stop), as far as the storage can tell at once: every instance on Deno Deploy's KV,
   * only this process on a local KV file (other processes learn it at their next sweep).
   * Returns the function that stops listening. Optional: without it, sweeps alone find them.
   */
  watchHandovers?(listener: () => void): () => void;

  /** Runs newest first, filtered and paginated. */
  list(query?: RunListQuery): Promise<RunListPage>;

  /**
   * The runs of one AG-UI thread (`RunSummary.threadId`), newest first, at most `limit`
   * (default 20, at most 100). Read from an index written atomically with each run's creation:
   * no scan of other threads' runs.
   */
  listByThread(threadId: string, limit?: number): Promise<RunSummary[]>;

  /** Ends every subscription and releases the storage. Idempotent. */
  close(): Promise<void>;
}
