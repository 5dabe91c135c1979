/**
 * Following runs other processes write. This process's appends wake its subscribers directly
 * (`live_tail.ts`); writes from elsewhere arrive through one `kv.watch` of the head per subscribed
 * run (Deno Deploy; other handles in this process) and, for a local KV file, a poll: Deno's SQLite
 * backend does not notify watches across processes (denoland/deno#21640). To keep the poll cheap
 * with thousands of idle subscribers, appends also rewrite their process's
 * `["log_clock", instance]` key; a poll lists those few keys and re-reads the subscribed runs'
 * heads only when another process's clock moved. The clock moves at most once per
 * {@link DEFAULT_CLOCK_EVERY_MS} (a commit inside that time leaves it out and a lone write
 * follows at its end), and always with a run's last event or a gate, and on close: it is one key
 * more in a commit of one or two runs' rows, and every key is B-tree pages the commit writes and
 * fsyncs.
 * @module
 */
import type { Logger } from "../log.ts";
import { type HeadValue, keys } from "./kv_codec.ts";
import { headState } from "./kv_head.ts";
import type { HeadState } from "./tail_source.ts";

/** Least time between two moves of a process's append clock (ms): a poll learns later by this. */
export const DEFAULT_CLOCK_EVERY_MS = 100;

/** The part of the live tail the follower drives. */
export interface FollowedTail {
  /** Ids of the runs with subscribers in this process. */
  runIds(): string[];
  /** Tells the tail run `id`'s head moved (null: gone). */
  advance(id: string, head: HeadState | null): void;
}

/** Options of {@link KvFollower}. */
export interface KvFollowerOptions {
  /** The open KV. */
  kv: Deno.Kv;
  /** Clock (ms since epoch). */
  now: () => number;
  /** Watch each subscribed run's head. */
  watch: boolean;
  /** Poll subscribed runs' heads every this many ms; 0 = never. */
  pollMs: number;
  /** Where watch and poll failures are reported. */
  logger: Logger;
  /** How long this process's clock key lives, in ms (it is rewritten by appends). */
  ttlMs: number;
  /** Least ms between two moves of the clock ({@link DEFAULT_CLOCK_EVERY_MS}; 0: every commit). */
  clockEveryMs?: number;
  /**
   * True while this process's commits are under way (the group committer's next operation will
   * call {@link KvFollower.tick}): an owed move of the clock then rides with it instead of
   * taking a commit of its own. Default: never.
   */
  committing?: () => boolean;
  /** The tail to wake (read lazily: the tail and the follower refer to each other). */
  tail: () => FollowedTail;
  /** True once the store is closing: no new poll, and failures are no longer reported. */
  closed: () => boolean;
}

/** Watches and polls the heads of the runs subscribed in this process. */
export class KvFollower {
  readonly #o: KvFollowerOptions;
  /** This process's append clock key (see `keys.clock`). */
  readonly #clockKey: Deno.KvKey = keys.clock(crypto.randomUUID());
  /** Other processes' append clocks as last seen by the poll: instance → versionstamp. */
  readonly #clocksSeen = new Map<string, string>();
  #clockTick = 0;
  /** When the clock last moved (`performance.now()`). */
  #clockAt = -Infinity;
  /** The lone write of the clock owed for commits that left it out. */
  #clockTimer: ReturnType<typeof setTimeout> | undefined;
  #clockWrite: Promise<void> | undefined;
  #openRuns = 0;
  #pollTimer: ReturnType<typeof setTimeout> | undefined;
  #polling: Promise<void> | undefined;

  /** A follower over `opts.kv`. */
  constructor(opts: KvFollowerOptions) {
    this.#o = opts;
  }

  /**
   * Adds the move of this process's append clock to a commit (so other processes' polls see
   * it), unless it moved less than `clockEveryMs` ago and `ends` is false: then a lone write of it
   * follows at the end of that time, submitted after this commit (Deno KV commits one process's
   * writes in order), so a poll that sees it re-reads heads that include this commit.
   */
  tick(op: Deno.AtomicOperation, ends = false): void {
    const now = performance.now();
    const every = this.#o.clockEveryMs ?? DEFAULT_CLOCK_EVERY_MS;
    if (!ends && now - this.#clockAt < every) {
      this.#clockTimer ??= setTimeout(this.#owed, every - (now - this.#clockAt));
      return;
    }
    clearTimeout(this.#clockTimer);
    this.#clockTimer = undefined;
    this.#clockAt = now;
    op.set(this.#clockKey, ++this.#clockTick, { expireIn: this.#o.ttlMs });
  }

  /**
   * The move owed by commits that left the clock out, due now: it goes with the next commit
   * when one is under way (its `tick` is past the interval; under load a commit follows within
   * one commit's time), else in a write of its own. Checked again a little later in case the
   * commit under way was the last one.
   */
  readonly #owed = () => {
    this.#clockTimer = undefined;
    if (this.#o.committing?.()) {
      const every = this.#o.clockEveryMs ?? DEFAULT_CLOCK_EVERY_MS;
      this.#clockTimer = setTimeout(this.#owed, Math.max(1, every / 4));
      return;
    }
    void this.#writeClock();
  };

  /** Moves the clock in a write of its own (the one owed by commits that left it out). */
  #writeClock(): Promise<void> {
    this.#clockAt = performance.now();
    const op = this.#o.kv.atomic().set(this.#clockKey, ++this.#clockTick, {
      expireIn: this.#o.ttlMs,
    });
    const write = this.#clockWrite = op.commit().then(
      () => {},
      (err) => {
        if (!this.#o.closed()) this.#o.logger.warn("append clock write failed", { error: err });
      },
    ).finally(() => {
      if (this.#clockWrite === write) this.#clockWrite = undefined;
    });
    return write;
  }

  /** The head of run `id` as the live tail sees it. */
  async readHead(id: string): Promise<HeadState | null> {
    const entry = await this.#o.kv.get<HeadValue>(keys.head(id));
    return headState(entry.value, this.#o.now());
  }

  /** A run got its first subscriber here: follow its head until the last one leaves. */
  open(id: string): () => Promise<void> {
    this.#openRuns++;
    this.#schedulePoll();
    const stopWatch = this.#o.watch ? this.#startWatch(id) : undefined;
    return async () => {
      this.#openRuns--;
      if (this.#openRuns === 0) this.#stopPoll();
      await stopWatch?.();
    };
  }

  /**
   * Stops polling (the store is closed) and writes the clock still owed, so other processes
   * see this one's last appends; resolves once a poll and a clock write under way have finished.
   */
  async close(): Promise<void> {
    this.#stopPoll();
    if (this.#clockTimer !== undefined) {
      clearTimeout(this.#clockTimer);
      this.#clockTimer = undefined;
      await this.#writeClock();
    }
    await this.#clockWrite;
    await this.#polling;
  }

  #startWatch(id: string): () => Promise<void> {
    const reader = this.#o.kv.watch<[HeadValue]>([keys.head(id)]).getReader();
    let stopped = false;
    const task = (async () => {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          this.#o.tail().advance(id, headState(value[0].value, this.#o.now()));
        }
      } catch (err) {
        if (!stopped && !this.#o.closed()) {
          this.#o.logger.warn("run head watch failed", { run_id: id, error: err });
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
    if (this.#o.pollMs <= 0 || this.#o.closed() || this.#pollTimer || this.#polling) return;
    if (this.#openRuns === 0) return;
    this.#pollTimer = setTimeout(() => {
      this.#pollTimer = undefined;
      this.#polling = this.#pollOnce().finally(() => {
        this.#polling = undefined;
        this.#schedulePoll();
      });
    }, this.#o.pollMs);
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
    const { kv } = this.#o;
    try {
      let moved = false;
      for await (const entry of kv.list({ prefix: keys.clocks })) {
        const instance = String(entry.key[1]);
        if (instance === this.#clockKey[1]) continue;
        if (this.#clocksSeen.get(instance) !== entry.versionstamp) {
          this.#clocksSeen.set(instance, entry.versionstamp);
          moved = true;
        }
      }
      if (!moved) return;
      const tail = this.#o.tail();
      const ids = tail.runIds();
      for (let i = 0; i < ids.length && !this.#o.closed(); i += 10) {
        const slice = ids.slice(i, i + 10);
        const entries = await kv.getMany<HeadValue[]>(slice.map((id) => keys.head(id)));
        const now = this.#o.now();
        for (let j = 0; j < slice.length; j++) {
          tail.advance(slice[j], headState(entries[j].value, now));
        }
      }
    } catch (err) {
      // Forget what was seen so the next poll re-reads every head instead of missing a move.
      this.#clocksSeen.clear();
      if (!this.#o.closed()) this.#o.logger.warn("run head poll failed", { error: err });
    }
  }
}
