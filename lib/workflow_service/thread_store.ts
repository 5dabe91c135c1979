/**
 * The service's thread table on Deno KV: one record per `thread_id` (status, pending gate, event
 * sequence, graph, owning process), the thread's events (the last `retention` of them), its step
 * journal, an expiry index and one liveness key per process. Keys, under `prefix`:
 *
 * - `[...prefix, "t", id]` the record; `[...prefix, "e", id, seq]` an event `{type, data}`;
 * - `[...prefix, "s", id, step]` the step journal `{done, result?}`;
 * - `[...prefix, "x", expireAt, id]` the expiry index (threads not running);
 * - `[...prefix, "r", id]` the index of running threads (for the orphan scan);
 * - `[...prefix, "a", owner]` a process's lease: epoch ms until which it counts as alive.
 *
 * Every write to a thread is one atomic operation checked against the record's versionstamp, so a
 * process that lost a thread (another one took it over) cannot write to it any more. Expiry is
 * the same as the in-memory table had: finished threads after `finishedTtlMs`, waiting ones after
 * `waitingTtlMs`, running ones never; an expired record reads as absent at once and its keys are
 * deleted by {@link ThreadStore.sweep}. Every key also carries a KV `expireIn` long enough to
 * outlive its thread, so a store nobody sweeps still empties itself.
 * @module
 */
import type { JsonObject, RunOptions } from "./spec.ts";

/** Where a thread is in its life. */
export type ThreadStatus = "running" | "waiting" | "complete" | "rejected" | "error" | "aborted";

/** One thread (= workflow run) as stored. */
export interface ThreadRow {
  /** The thread id (the gateway's run id). */
  id: string;
  /** The graph it runs. */
  graph: string;
  /** Where it is in its life. */
  status: ThreadStatus;
  /** The last event id; ids go up by one from 1 across the whole thread. */
  seq: number;
  /** The oldest event id still kept (events before it were dropped by retention). */
  first: number;
  /** The gate the thread waits at (status `waiting`). */
  pending?: { stepId: string; message: string };
  /** The decision accepted for the thread's gate (kept for a recovery before the gate took it). */
  decision?: { stepId: string; decision: "approve" | "reject"; comment?: string };
  /** The extracted input: a run that died before its first checkpoint starts again from it. */
  start?: { input: unknown; options: RunOptions };
  /** The process running the thread (status `running`). */
  owner?: string;
  /** Someone asked to abort the running thread (seen by its owner). */
  abort?: boolean;
  /** Last status change, epoch ms. */
  updatedAt: number;
  /** When the record expires (absent while running), epoch ms. */
  expireAt?: number;
}

/** One stored event. `data` is the JSON text sent as the SSE `data:`. */
export interface ThreadEvent {
  /** The SSE `id:`. */
  id: number;
  /** The SSE `event:`. */
  type: string;
  /** The SSE `data:`. */
  data: string;
}

/** A step's journal entry. */
export interface StepEntry {
  /** False once the step started, true once its result is stored. */
  done: boolean;
  /** The step's result (once done). */
  result?: JsonObject;
}

/** A record and the versionstamp it was read at. */
export interface Versioned {
  /** The record. */
  row: ThreadRow;
  /** Its KV versionstamp. */
  vs: string;
}

/** Settings of a {@link ThreadStore}. */
export interface ThreadStoreOptions {
  /** Key prefix (default `["workflow"]`). */
  prefix?: Deno.KvKey;
  /** Keep finished threads this long (default one hour). */
  finishedTtlMs?: number;
  /** Keep threads waiting for a decision this long (default 24 hours). */
  waitingTtlMs?: number;
  /** Events kept per thread, the oldest dropped first (default 10,000). */
  retention?: number;
  /** Clock, epoch ms. */
  now?: () => number;
}

/** Largest event `data` accepted (KV values are limited to 64 KiB). */
export const MAX_EVENT_BYTES = 60_000;

const TERMINAL: ReadonlySet<ThreadStatus> = new Set(["complete", "rejected", "error", "aborted"]);

/** True for a status a thread never leaves. */
export function isFinished(status: ThreadStatus): boolean {
  return TERMINAL.has(status);
}

/** An event whose data is over {@link MAX_EVENT_BYTES}. */
export class EventTooLargeError extends Error {
  /** An error naming the event type and its size in bytes. */
  constructor(type: string, bytes: number) {
    super(`event ${type} is ${bytes} bytes, over the ${MAX_EVENT_BYTES}-byte limit`);
    this.name = "EventTooLargeError";
  }
}

/** The thread table on Deno KV. */
export class ThreadStore {
  readonly #kv: Deno.Kv;
  readonly #p: Deno.KvKey;
  readonly #finishedTtl: number;
  readonly #waitingTtl: number;
  readonly #retention: number;
  readonly #now: () => number;
  /** KV `expireIn` of every key: longer than any thread can live between two writes. */
  readonly #backstop: number;

  /** A store on `kv` (not closed by the store). */
  constructor(kv: Deno.Kv, opts: ThreadStoreOptions = {}) {
    this.#kv = kv;
    this.#p = opts.prefix ?? ["workflow"];
    this.#finishedTtl = opts.finishedTtlMs ?? 3_600_000;
    this.#waitingTtl = opts.waitingTtlMs ?? 86_400_000;
    this.#retention = Math.max(1, opts.retention ?? 10_000);
    this.#now = opts.now ?? Date.now;
    this.#backstop = 2 * (this.#finishedTtl + this.#waitingTtl);
  }

  /** The KV `expireIn` the store puts on its keys (checkpoints should live as long). */
  get backstopMs(): number {
    return this.#backstop;
  }

  #row(id: string): Deno.KvKey {
    return [...this.#p, "t", id];
  }
  #ev(id: string, seq?: number): Deno.KvKey {
    return seq === undefined ? [...this.#p, "e", id] : [...this.#p, "e", id, seq];
  }
  #step(id: string, step?: string): Deno.KvKey {
    return step === undefined ? [...this.#p, "s", id] : [...this.#p, "s", id, step];
  }
  #index(expireAt: number, id: string): Deno.KvKey {
    return [...this.#p, "x", expireAt, id];
  }
  #running(id: string): Deno.KvKey {
    return [...this.#p, "r", id];
  }
  #alive(owner: string): Deno.KvKey {
    return [...this.#p, "a", owner];
  }

  /** The expiry of a thread with `status` changed at `at` (undefined while running). */
  #expiry(status: ThreadStatus, at: number): number | undefined {
    if (status === "running") return undefined;
    return at + (status === "waiting" ? this.#waitingTtl : this.#finishedTtl);
  }

  /** The thread `id`, or undefined when unknown or expired. */
  async get(id: string): Promise<Versioned | undefined> {
    const e = await this.#kv.get<ThreadRow>(this.#row(id));
    if (e.value === null || e.versionstamp === null) return undefined;
    if (e.value.expireAt !== undefined && e.value.expireAt <= this.#now()) return undefined;
    return { row: e.value, vs: e.versionstamp };
  }

  /**
   * Creates a thread with its first events (ids from 1), unless a record exists (expired ones
   * count as absent and are replaced). Returns undefined when another record is there.
   */
  async create(
    row: ThreadRow,
    events: Array<{ type: string; data: string }>,
  ): Promise<{ versioned: Versioned; events: ThreadEvent[] } | undefined> {
    const existing = await this.#kv.get<ThreadRow>(this.#row(row.id));
    if (
      existing.value && !(existing.value.expireAt !== undefined &&
        existing.value.expireAt <= this.#now())
    ) return undefined;
    if (existing.value) await this.delete(row.id);
    const op = this.#kv.atomic().check({ key: this.#row(row.id), versionstamp: null });
    const fresh: ThreadRow = { ...row, seq: 0, first: 1 };
    const written = this.#stage(op, undefined, fresh, events, []);
    const res = await op.commit();
    if (!res.ok) return undefined;
    return { versioned: { row: written.row, vs: res.versionstamp }, events: written.events };
  }

  /**
   * Appends `events` (numbered after `current.row.seq`), applies `patch` to the record and writes
   * `steps` to the journal, in one atomic write checked against `current.vs`. Returns the new
   * record, or undefined when the record changed since `current` was read.
   */
  async append(
    current: Versioned,
    events: Array<{ type: string; data: string }>,
    patch: Partial<ThreadRow> = {},
    steps: Array<{ step: string; entry: StepEntry }> = [],
  ): Promise<{ versioned: Versioned; events: ThreadEvent[] } | undefined> {
    const op = this.#kv.atomic().check({
      key: this.#row(current.row.id),
      versionstamp: current.vs,
    });
    const next: ThreadRow = { ...current.row, ...patch };
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) delete (next as unknown as Record<string, unknown>)[k];
    }
    const written = this.#stage(op, current.row, next, events, steps);
    const res = await op.commit();
    if (!res.ok) return undefined;
    return { versioned: { row: written.row, vs: res.versionstamp }, events: written.events };
  }

  #stage(
    op: Deno.AtomicOperation,
    before: ThreadRow | undefined,
    next: ThreadRow,
    events: Array<{ type: string; data: string }>,
    steps: Array<{ step: string; entry: StepEntry }>,
  ): { row: ThreadRow; events: ThreadEvent[] } {
    const now = this.#now();
    const expireIn = this.#backstop;
    const out: ThreadEvent[] = [];
    const encoder = new TextEncoder();
    for (const e of events) {
      const bytes = encoder.encode(e.data).length;
      if (bytes > MAX_EVENT_BYTES) throw new EventTooLargeError(e.type, bytes);
      const ev: ThreadEvent = { id: ++next.seq, type: e.type, data: e.data };
      out.push(ev);
      op.set(this.#ev(next.id, ev.id), { type: ev.type, data: ev.data }, { expireIn });
    }
    // Retention: drop the oldest events beyond the bound (at most as many as were added).
    const keepFrom = Math.max(1, next.seq - this.#retention + 1);
    for (let seq = next.first; seq < keepFrom; seq++) op.delete(this.#ev(next.id, seq));
    next.first = Math.max(next.first, keepFrom);
    for (const s of steps) op.set(this.#step(next.id, s.step), s.entry, { expireIn });
    if (!before || before.status !== next.status || events.length > 0) next.updatedAt = now;
    const expireAt = this.#expiry(next.status, next.updatedAt);
    if (before?.expireAt !== undefined && before.expireAt !== expireAt) {
      op.delete(this.#index(before.expireAt, next.id));
    }
    if (expireAt === undefined) delete next.expireAt;
    else {
      next.expireAt = expireAt;
      op.set(this.#index(expireAt, next.id), true, { expireIn });
    }
    if (next.status === "running") op.set(this.#running(next.id), true, { expireIn });
    else if (before?.status === "running") op.delete(this.#running(next.id));
    op.set(this.#row(next.id), next, { expireIn });
    return { row: next, events: out };
  }

  /** Events of thread `id` after id `after`, in order, at most `limit`. */
  async events(id: string, after: number, limit = 256): Promise<ThreadEvent[]> {
    const out: ThreadEvent[] = [];
    const iter = this.#kv.list<{ type: string; data: string }>({
      start: this.#ev(id, after + 1),
      end: [...this.#ev(id), Number.MAX_SAFE_INTEGER],
    }, { limit });
    for await (const e of iter) {
      out.push({ id: e.key.at(-1) as number, type: e.value.type, data: e.value.data });
    }
    return out;
  }

  /** The step journal of thread `id`. */
  async steps(id: string): Promise<Map<string, StepEntry>> {
    const out = new Map<string, StepEntry>();
    for await (const e of this.#kv.list<StepEntry>({ prefix: this.#step(id) })) {
      out.set(e.key.at(-1) as string, e.value);
    }
    return out;
  }

  /** Renews `owner`'s lease until `untilMs` (wall-clock epoch ms, as leases are about processes). */
  async setAlive(owner: string, untilMs: number): Promise<void> {
    await this.#kv.set(this.#alive(owner), untilMs, {
      expireIn: Math.max(1_000, untilMs - Date.now()) * 2,
    });
  }

  /** Ends `owner`'s lease at once (a clean stop hands its threads over). */
  async release(owner: string): Promise<void> {
    await this.#kv.delete(this.#alive(owner));
  }

  /** True while `owner`'s lease runs. */
  async isAlive(owner: string): Promise<boolean> {
    const e = await this.#kv.get<number>(this.#alive(owner));
    return e.value !== null && e.value > Date.now();
  }

  /** Deletes every key of thread `id`. */
  async delete(id: string): Promise<void> {
    const keys: Deno.KvKey[] = [this.#row(id), this.#running(id)];
    const row = (await this.#kv.get<ThreadRow>(this.#row(id))).value;
    if (row?.expireAt !== undefined) keys.push(this.#index(row.expireAt, id));
    for (const prefix of [this.#ev(id), this.#step(id)]) {
      for await (const e of this.#kv.list({ prefix })) keys.push(e.key);
    }
    for (let i = 0; i < keys.length; i += 500) {
      const op = this.#kv.atomic();
      for (const k of keys.slice(i, i + 500)) op.delete(k);
      await op.commit();
    }
  }

  /** Deletes threads whose time is up at the store's clock; returns their ids. */
  async sweep(limit = 500): Promise<string[]> {
    const now = this.#now();
    const gone: string[] = [];
    const iter = this.#kv.list<boolean>({
      start: [...this.#p, "x"],
      end: [...this.#p, "x", now + 1],
    }, { limit });
    for await (const e of iter) {
      const id = e.key.at(-1) as string;
      const row = (await this.#kv.get<ThreadRow>(this.#row(id))).value;
      if (row && row.expireAt !== undefined && row.expireAt > now) {
        // A stale index entry (the thread moved on): only the entry goes.
        await this.#kv.delete(e.key);
        continue;
      }
      await this.#kv.delete(e.key);
      if (row) await this.delete(id);
      gone.push(id);
    }
    return gone;
  }

  /** Ids of running threads (any process's), at most `limit`. */
  async runningIds(limit = 1_000): Promise<string[]> {
    const out: string[] = [];
    for await (const e of this.#kv.list({ prefix: [...this.#p, "r"] }, { limit })) {
      out.push(e.key.at(-1) as string);
    }
    return out;
  }

  /** Every thread record (for `/health`), at most `limit`. */
  async list(limit = 10_000): Promise<ThreadRow[]> {
    const out: ThreadRow[] = [];
    const now = this.#now();
    for await (const e of this.#kv.list<ThreadRow>({ prefix: [...this.#p, "t"] }, { limit })) {
      if (e.value.expireAt === undefined || e.value.expireAt > now) out.push(e.value);
    }
    return out;
  }
}
