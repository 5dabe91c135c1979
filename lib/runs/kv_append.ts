/**
 * One append's share of a shared commit (`group_commit.ts`), built from the writer's cached state
 * of the run: the events numbered, the new head (with the newest events in it, `kv_tail.ts`),
 * the summary when the batch changes it, and the rows to write. One object per append (it is its
 * own contribution, `apply` a method): this is the relay's hottest path, one per upstream read.
 * @module
 */
import type { RunSummary, StoredEvent } from "../events.ts";
import { isTerminalType } from "../event_names.ts";
import { RelayFencedError, RunClosedError, RunNotFoundError } from "./errors.ts";
import type { Contribution, Member } from "./group_commit.ts";
import {
  type EncodedPage,
  type HeadValue,
  idKeyBytes,
  isBlob,
  keys,
  type PageValue,
  PARTS_PER_WRITE,
  type RunRecord,
} from "./kv_codec.ts";
import { commit } from "./kv_atomic.ts";
import {
  applyPatch,
  changesSummary,
  INDEX_MUTATIONS,
  indexRunning,
  patchHead,
  type WriterCache,
  type WriterState,
} from "./kv_head.ts";
import { placeEvents } from "./kv_tail.ts";
import type { AppendOptions, NewEvent, SummaryPatch } from "./store.ts";

/** Where an {@link AppendWrite} queued with `GroupCommitter.enqueue` learns its outcome. */
export interface AppendSink {
  /** The operation that carried `w` committed (`ok`) or failed one of its checks. */
  committed(w: AppendWrite, res: Deno.KvCommitResult | Deno.KvCommitError): void;
  /** The commit that carried `w` threw. */
  failed(w: AppendWrite, err: unknown): void;
}

/**
 * An append ready to commit: its contribution (and queue member), what it was made of (for a
 * retry), and what the writer caches once it committed.
 */
export class AppendWrite implements Contribution, Member {
  /** The head's version check, and the summary's when the batch changes it. */
  readonly checks: Deno.AtomicCheck[];
  /** Mutations {@link apply} adds. */
  readonly mutations: number;
  /** Estimated bytes of keys and values. */
  readonly bytes: number;
  /** Estimated bytes of keys. */
  readonly keyBytes: number;
  /**
   * A run's end, or a gate (the relay's stream stops there until a decision): followers polling
   * from other processes learn of it at once, even if this process dies next.
   */
  readonly ends: boolean;
  /** The events as stored (numbered). */
  readonly stored: StoredEvent[];
  /** The head this write stores. */
  readonly head: HeadValue;
  /** The summary after the write (the cached one when the batch does not change it). */
  readonly summary: RunSummary;
  /** True when the write stores the summary record too. */
  readonly writeSummary: boolean;
  /** The run. */
  readonly id: string;
  /** The run's state it was built on. */
  readonly st: WriterState;
  /** The events it appends. */
  readonly events: readonly NewEvent[];
  /** Their packed text, when they go into the head. */
  readonly text: string | undefined;
  /** The summary patch it carries. */
  readonly patch: SummaryPatch | undefined;
  /** The append's options. */
  readonly opts: AppendOptions;
  /** Settles the caller's promise (set by {@link track}). */
  resolve: (stored: StoredEvent[] | Promise<StoredEvent[]>) => void = noop;
  /** Rejects the caller's promise (set by {@link track}). */
  reject: (err: unknown) => void = noop;
  #sink: AppendSink | undefined;
  readonly #headKey: Deno.KvKey;
  readonly #expireIn: number;
  readonly #exp: number;
  readonly #rowSeqs: number[];
  readonly #rowValues: PageValue[];
  readonly #indexes: boolean;

  /**
   * Builds the write of `events` (packed as `pages`, or, when `text` is their packed text, into
   * the head) on `st`, the run's state as last committed.
   * @throws {RunClosedError} when the run has ended.
   * @throws {RelayFencedError} when `opts.relayOwner` no longer relays the run.
   * @throws {RunNotFoundError} when the run has expired.
   */
  constructor(
    id: string,
    st: WriterState,
    events: readonly NewEvent[],
    pages: readonly EncodedPage[] | null,
    text: string | undefined,
    patch: SummaryPatch | undefined,
    opts: AppendOptions,
    now: number,
  ) {
    const prev = st.head;
    if (prev.done) throw new RunClosedError(id);
    // A stale cache passes this, then fails the head's version check and is read again.
    if (opts.relayOwner !== undefined && prev.owner !== opts.relayOwner) {
      throw new RelayFencedError(id, prev.owner);
    }
    if (now >= prev.exp) throw new RunNotFoundError(id, "the run has expired");
    // A batch that only repeats the current status (every step_started says "running") costs
    // no summary write.
    const writeSummary = changesSummary(st.summary, patch);
    let seq = prev.seq;
    let up: string | undefined;
    const stored: StoredEvent[] = [];
    for (let i = 0; i < events.length; i++) {
      const ev = events[i];
      stored.push({ seq: ++seq, type: ev.type, data: ev.data });
      // The last upstream id among these events goes into the head in the same write.
      if (ev.upstreamId !== undefined) up = ev.upstreamId;
    }
    const last = stored[stored.length - 1].type;
    const done = isTerminalType(last);
    // patchHead's copy is this write's own: set on it rather than spread it again.
    const head = patchHead(prev, patch, now);
    head.seq = seq;
    head.done = done;
    if (up !== undefined) head.up = up;
    const summary = writeSummary ? applyPatch(st.summary, patch) : st.summary;
    // Small appends go into the head (kv_tail.ts); pages are written only when they do not fit.
    const rows = placeEvents(prev, head, stored.length, text, pages, 64 + idKeyBytes(id));
    const headKey = keys.head(id);
    this.id = id;
    this.st = st;
    this.events = events;
    this.text = text;
    this.patch = patch;
    this.opts = opts;
    this.#headKey = headKey;
    this.#expireIn = prev.exp - now;
    this.#exp = prev.exp;
    this.#rowSeqs = rows.seqs;
    this.#rowValues = rows.values;
    this.#indexes = writeSummary || (patch !== undefined && "relay" in patch);
    this.stored = stored;
    this.head = head;
    this.summary = summary;
    this.writeSummary = writeSummary;
    this.checks = writeSummary
      ? [{ key: headKey, versionstamp: st.headVs }, { key: keys.run(id), versionstamp: st.runVs }]
      : [{ key: headKey, versionstamp: st.headVs }];
    this.mutations = rows.seqs.length + 1 + (writeSummary ? 1 : 0) +
      (this.#indexes ? INDEX_MUTATIONS : 0);
    this.bytes = 512 + rows.bytes + (writeSummary ? JSON.stringify(summary).length * 3 : 0);
    this.keyBytes = 256 + rows.keyBytes;
    this.ends = done || last === "approval_required";
  }

  /** This write is its own contribution. */
  get c(): Contribution {
    return this;
  }

  /** Reports the outcome to `sink`, which settles the caller's promise through `resolve`/`reject`. */
  track(
    sink: AppendSink,
    resolve: (stored: StoredEvent[] | Promise<StoredEvent[]>) => void,
    reject: (err: unknown) => void,
  ): void {
    this.#sink = sink;
    this.resolve = resolve;
    this.reject = reject;
  }

  /** The committer's answer (see `Member`). */
  settle(r: Deno.KvCommitResult | Deno.KvCommitError): void {
    this.#sink?.committed(this, r);
  }

  /** The committer's failure (see `Member`). */
  fail(err: unknown): void {
    this.#sink?.failed(this, err);
  }

  /** Adds the write's mutations to a shared operation. */
  apply(op: Deno.AtomicOperation): void {
    const id = this.id;
    const expireIn = this.#expireIn;
    const opts = { expireIn };
    for (let k = 0; k < this.#rowSeqs.length; k++) {
      op.set(keys.page(id, this.#rowSeqs[k]), this.#rowValues[k], opts);
    }
    op.set(this.#headKey, this.head, opts);
    if (this.writeSummary) {
      op.set(keys.run(id), { summary: this.summary, exp: this.#exp } satisfies RunRecord, opts);
    }
    if (this.#indexes) indexRunning(op, this.summary, this.head, expireIn, this.st.head);
  }

  /** What the writer caches once the write committed as `versionstamp` over `st`. */
  committed(st: WriterState, versionstamp: string): WriterState {
    return {
      head: this.head,
      headVs: versionstamp,
      summary: this.summary,
      runVs: this.writeSummary ? versionstamp : st.runVs,
    };
  }
}

function noop(): void {}

/** True when a terminal event comes before the batch's last (the store refuses such a batch). */
export function endsEarly(events: readonly NewEvent[]): boolean {
  for (let i = 0; i < events.length - 1; i++) if (isTerminalType(events[i].type)) return true;
  return false;
}

/** Writes the parts of the big events among `pages` (before the write that commits them). */
export async function writeParts(
  kv: Deno.Kv,
  cache: WriterCache,
  now: () => number,
  id: string,
  pages: readonly EncodedPage[],
): Promise<void> {
  for (const page of pages) {
    if (page.parts.length === 0 || !isBlob(page.value)) continue;
    const blob = page.value.blob;
    const st = await cache.get(id);
    const expireIn = Math.max(1, st.head.exp - now());
    // Unique blob ids: parts of an attempt that never committed are never read, and expire.
    for (let i = 0; i < page.parts.length; i += PARTS_PER_WRITE) {
      await commit(() => {
        const op = kv.atomic();
        for (let k = i; k < Math.min(i + PARTS_PER_WRITE, page.parts.length); k++) {
          op.set(keys.part(id, blob, k), page.parts[k], { expireIn });
        }
        return op;
      });
    }
  }
}
