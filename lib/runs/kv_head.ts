/**
 * A run's head and summary on Deno KV: how a patch splits between them, how readers see the two
 * merged, and the writer's cache of both. The head (`["head", id]`) changes on every append and
 * lease renewal; the summary record (`["runs", id]`) only when status, approval or error change,
 * so a steady relay rewrites the head (with the newest events in it, `kv_tail.ts`) per upstream
 * read and a page row now and then (docs/architecture.md, "Run log").
 * @module
 */
import type { RunSummary } from "../events.ts";
import { RunNotFoundError } from "./errors.ts";
import { type HeadValue, keys, type RunRecord } from "./kv_codec.ts";
import type { HeadState } from "./tail_source.ts";
import type { SummaryPatch } from "./store.ts";

/** What the writer of a run keeps between appends: head, summary and their versionstamps. */
export interface WriterState {
  /** The stored head. */
  head: HeadValue;
  /** The head's versionstamp, checked by the next write. */
  headVs: string;
  /** The stored summary (its `eventCount`, `updatedAt` and `relay` are the head's). */
  summary: RunSummary;
  /** The summary record's versionstamp, checked by a write that changes it. */
  runVs: string;
}

/** Summary fields kept in the head: an append or a lease renewal moves them without a summary write. */
const HEAD_FIELDS: ReadonlySet<string> = new Set([
  "id",
  "eventCount",
  "updatedAt",
  "relay",
  "lastUpstreamId",
]);

/** True when `patch` changes something only the summary record holds. */
export function touchesSummary(patch: SummaryPatch | undefined): boolean {
  if (!patch) return false;
  for (const key in patch) if (!HEAD_FIELDS.has(key)) return true;
  return false;
}

/** True when `patch` would change a field of the stored summary record. */
export function changesSummary(summary: RunSummary, patch: SummaryPatch | undefined): boolean {
  if (!patch) return false;
  const current = summary as unknown as Record<string, unknown>;
  const given = patch as Record<string, unknown>;
  // for-in, not Object.entries: no arrays built on every append.
  for (const key in given) {
    if (!Object.hasOwn(given, key) || HEAD_FIELDS.has(key)) continue;
    const value = given[key];
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
export function patchHead(
  head: HeadValue,
  patch: SummaryPatch | undefined,
  now: number,
): HeadValue {
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
export function withHead(summary: RunSummary, head: HeadValue | null): RunSummary {
  if (!head) return summary;
  const out: RunSummary = { ...summary, eventCount: head.seq };
  if (head.at !== undefined) out.updatedAt = new Date(head.at).toISOString();
  if (head.owner !== undefined && head.lease !== undefined) {
    out.relay = { owner: head.owner, leaseUntil: head.lease };
  } else {
    delete out.relay;
  }
  if (head.up !== undefined) out.lastUpstreamId = head.up;
  return out;
}

/**
 * Most mutations {@link indexRunning} adds: the owner's entry, the previous owner's removal and
 * the older index's removal.
 */
export const INDEX_MUTATIONS = 3;

/**
 * Keeps the running index (`keys.runningBy`) in step with a summary or relay write: an entry
 * under the relay's owner exactly while the stored status is `running`, so a sweep reads one key
 * per owner and lists the runs of lapsed owners only. `before` is the head the write replaces
 * (checked by the same operation), undefined for a new run; an owner change moves the entry.
 * Added to the atomic operation that writes the summary or the head.
 */
export function indexRunning(
  op: Deno.AtomicOperation,
  summary: RunSummary,
  head: HeadValue,
  expireIn: number,
  before: HeadValue | undefined,
): void {
  const id = summary.id;
  const owner = head.owner ?? "";
  if (summary.status === "running") op.set(keys.runningBy(owner, id), 1, { expireIn });
  else op.delete(keys.runningBy(owner, id));
  if (before === undefined) return;
  const previous = before.owner ?? "";
  if (previous !== owner) op.delete(keys.runningBy(previous, id));
  op.delete(keys.runningOld(id));
}

/** The summary with `patch` applied; `id` and `eventCount` are the log's own. */
export function applyPatch(summary: RunSummary, patch: SummaryPatch | undefined): RunSummary {
  const out = { ...summary } as Record<string, unknown>;
  if (patch) {
    for (const [key, value] of Object.entries(patch)) {
      if (key === "id" || key === "eventCount" || key === "lastUpstreamId") continue;
      if (value === undefined) delete out[key];
      else out[key] = value;
    }
  }
  return out as unknown as RunSummary;
}

/** The head as the live tail sees it; null when missing or past its deadline. */
export function headState(value: HeadValue | null, now: number): HeadState | null {
  if (!value || value.exp <= now) return null;
  return { seq: value.seq, done: value.done };
}

/** A cached run's state and when it was last remembered (see `WriterCache`). */
interface WriterSlot {
  st: WriterState;
  used: number;
}

/** Runs a process keeps cached at most (least recently written dropped first). */
export const MAX_WRITERS = 1024;
/**
 * Runs dropped at once when a new run passes {@link MAX_WRITERS}: finding the least recently
 * used takes a pass over every slot, so it is paid once per this many new runs, not per run
 * (a process past the bound starts every run past it: ~10 µs a start, bench/writer_cache.ts).
 */
export const EVICT_BATCH = 128;

/**
 * The head and summary (with versionstamps) of the runs this process wrote lately, so a steady
 * relay appends without reading anything. A write from another process fails the next version
 * check; the writer then {@link WriterCache.forget}s the run and loads it again.
 */
export class WriterCache {
  readonly #kv: Deno.Kv;
  readonly #now: () => number;
  /**
   * Each run's slot, updated in place by {@link remember}: a Map that took a delete and a set on
   * every append rebuilt its hash table every few hundred appends, and those tables lived long
   * enough to be promoted to the old generation (S3: mark-compacts during the rounds).
   */
  readonly #writers = new Map<string, WriterSlot>();
  /** Counts {@link remember}s; a slot's `used` is the count at its last one (lowest goes first). */
  #uses = 0;

  /** A cache over `kv`; `now` decides what has expired. */
  constructor(kv: Deno.Kv, now: () => number) {
    this.#kv = kv;
    this.#now = now;
  }

  /** The cached state of run `id`, if any. */
  peek(id: string): WriterState | undefined {
    return this.#writers.get(id)?.st;
  }

  /** True when run `id` is cached. */
  has(id: string): boolean {
    return this.#writers.has(id);
  }

  /** The cached state of run `id`, or what is stored (throws when missing or expired). */
  async get(id: string): Promise<WriterState> {
    return this.#writers.get(id)?.st ?? await this.load(id);
  }

  /** Reads a run's head and summary for writing. */
  async load(id: string): Promise<WriterState> {
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
    this.remember(id, st);
    return st;
  }

  /** Caches what a write just stored, as the most recently used. */
  remember(id: string, st: WriterState): void {
    const used = ++this.#uses;
    const slot = this.#writers.get(id);
    if (slot) {
      slot.st = st;
      slot.used = used;
      return;
    }
    this.#writers.set(id, { st, used });
    if (this.#writers.size > MAX_WRITERS) this.#evict();
  }

  /** Drops the {@link EVICT_BATCH} least recently remembered runs (`used` stamps are unique). */
  #evict(): void {
    const writers = this.#writers;
    const stamps = new Float64Array(writers.size);
    let i = 0;
    writers.forEach((s) => {
      stamps[i++] = s.used;
    });
    stamps.sort();
    const cutoff = stamps[Math.min(EVICT_BATCH, stamps.length) - 1];
    writers.forEach((s, key) => {
      if (s.used <= cutoff) writers.delete(key);
    });
  }

  /** Drops run `id` (its cache may be stale). */
  forget(id: string): void {
    this.#writers.delete(id);
  }

  /** Drops everything. */
  clear(): void {
    this.#writers.clear();
  }
}
