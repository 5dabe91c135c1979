/**
 * Group commit across runs. A Deno KV commit on a local file costs one fsync (~1–2 ms on this
 * kind of disk, measured in docs/performance.md) whatever it holds, and Deno KV does not merge
 * concurrent commits: 200 runs each appending one event per upstream read would need 200 fsyncs
 * per round. The committer merges every append submitted while a commit is in flight into the
 * next atomic operation (within Deno KV's limits), so the commit rate follows the disk while
 * each commit carries as many runs as are waiting.
 *
 * All or nothing per operation: when a merged operation fails a version check, which member's
 * check failed is unknown, so each member is committed again on its own and gets its own answer.
 * @module
 */
import { setImmediate } from "node:timers";

/** One append's share of an atomic operation. */
export interface Contribution {
  /** Version checks (each run's head and summary). */
  checks: Deno.AtomicCheck[];
  /** Adds the contribution's mutations to `op`. */
  apply(op: Deno.AtomicOperation): void;
  /** Mutations it adds. */
  mutations: number;
  /** Estimated bytes of its keys and values. */
  bytes: number;
  /** Bytes of its keys. */
  keyBytes: number;
  /**
   * True when it writes a run's last event or a gate (passed on to
   * {@link GroupCommitOptions.finish}).
   */
  ends?: boolean;
}

/** Deno KV's limits on one atomic operation, less what {@link GroupCommitOptions.finish} adds. */
export interface CommitLimits {
  /** Most checks one operation may hold. */
  checks: number;
  /** Most mutations one operation may hold. */
  mutations: number;
  /** Most bytes (keys and values) one operation may write. */
  bytes: number;
  /** Most bytes of keys one operation may write. */
  keyBytes: number;
}

/** Deno KV's documented per-operation limits, with room for the shared clock mutation. */
export const KV_LIMITS: CommitLimits = {
  checks: 100,
  mutations: 999,
  bytes: 800 * 1024,
  keyBytes: 78 * 1024,
};

/** Options of a {@link GroupCommitter}. */
export interface GroupCommitOptions {
  /** Commits an operation built by `build` (may retry transient failures). */
  commit(build: () => Deno.AtomicOperation): Promise<Deno.KvCommitResult | Deno.KvCommitError>;
  /** A fresh atomic operation. */
  atomic(): Deno.AtomicOperation;
  /**
   * Adds mutations an operation carries once (e.g. the writer's append clock); `ends` is true
   * when a member writes a run's last event or a gate.
   */
  finish?(op: Deno.AtomicOperation, ends: boolean): void;
  /** Limits of one operation (default {@link KV_LIMITS}). */
  limits?: CommitLimits;
  /**
   * Schedules the start of a commit when none is in flight. Default: at once. The store passes
   * {@link afterIo}: appends of other runs whose upstream reads completed in the same turn of
   * the event loop then join the first one's commit instead of queueing behind it.
   */
  defer?: (start: () => void) => void;
}

/**
 * Runs `fn` once the event loop has handled the I/O that is ready now (a `setImmediate`: no
 * timer, no sleep; a few µs), so everything those reads submit lands in the same commit.
 */
export function afterIo(fn: () => void): void {
  setImmediate(fn);
}

/**
 * A contribution waiting in the queue, told its outcome by a call (see
 * {@link GroupCommitter.enqueue}): no promise of its own.
 */
export interface Member {
  /** What it adds to the operation. */
  readonly c: Contribution;
  /** The result of the operation that carried it (`ok: false`: one of its checks failed). */
  settle(r: Deno.KvCommitResult | Deno.KvCommitError): void;
  /** Its commit threw. */
  fail(err: unknown): void;
}

/** A {@link GroupCommitter.submit}'s member: the promise's own resolving functions. */
class PromiseMember implements Member {
  constructor(
    readonly c: Contribution,
    readonly settle: (r: Deno.KvCommitResult | Deno.KvCommitError) => void,
    readonly fail: (err: unknown) => void,
  ) {}
}

type Pending = Member;

/** Merges concurrent appends into shared atomic operations (see the module doc). */
export class GroupCommitter {
  readonly #opts: GroupCommitOptions;
  readonly #limits: CommitLimits;
  #queue: Pending[] = [];
  /** How many entries at the queue's front were submitted `first` (they keep their order). */
  #firsts = 0;
  #running = false;
  readonly #defer: ((start: () => void) => void) | undefined;
  readonly #start = () => this.#run();
  /** True while an operation is being committed or about to start (its members are queued). */
  get busy(): boolean {
    return this.#running;
  }

  /** Operations committed, and contributions they carried (for tests and tuning). */
  readonly stats = { commits: 0, contributions: 0, splits: 0 };

  /** A committer that merges contributions into operations within `opts.limits`. */
  constructor(opts: GroupCommitOptions) {
    this.#opts = opts;
    this.#limits = opts.limits ?? KV_LIMITS;
    this.#defer = opts.defer;
  }

  /**
   * Commits `c` with whatever else is waiting. Resolves with the result of the operation that
   * carried it (`ok: false` when one of its own checks failed); rejects when its commit threw.
   * With `first`, `c` goes ahead of what waits without it (a new run's create: its first byte
   * should not queue behind other runs' events when they fill more than one operation).
   */
  submit(c: Contribution, first = false): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
    return new Promise((resolve, reject) => {
      this.enqueue(new PromiseMember(c, resolve, reject), first);
    });
  }

  /**
   * Like {@link submit}, for a member that takes its outcome by a call (`settle` or `fail`,
   * never both, never from inside this call): the relay's appends, one per upstream read, so
   * each is one object and the caller's one promise.
   */
  enqueue(m: Member, first = false): void {
    if (first) this.#queue.splice(this.#firsts++, 0, m);
    else this.#queue.push(m);
    if (this.#running) return;
    if (this.#defer) {
      // Marked running now so later submits of this turn only queue.
      this.#running = true;
      this.#defer(this.#start);
    } else void this.#run();
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      while (this.#queue.length > 0) {
        const group = this.#take();
        if (group.length === 1) {
          await this.#single(group[0]);
          continue;
        }
        let res: Deno.KvCommitResult | Deno.KvCommitError | undefined;
        try {
          res = await this.#opts.commit(() => this.#build(group));
        } catch {
          res = undefined;
        }
        if (res?.ok) {
          this.stats.commits++;
          this.stats.contributions += group.length;
          for (const p of group) p.settle(res);
          continue;
        }
        // A check failed (or the merged operation was refused): each member on its own.
        this.stats.splits++;
        for (const p of group) await this.#single(p);
      }
    } finally {
      this.#running = false;
    }
  }

  async #single(p: Pending): Promise<void> {
    try {
      const res = await this.#opts.commit(() => this.#build([p]));
      this.stats.commits++;
      this.stats.contributions++;
      p.settle(res);
    } catch (err) {
      p.fail(err);
    }
  }

  /** The longest prefix of the queue that fits one operation (always at least one). */
  #take(): Pending[] {
    const l = this.#limits;
    let checks = 0;
    let mutations = 0;
    let bytes = 0;
    let keyBytes = 0;
    let n = 0;
    for (const p of this.#queue) {
      const c = p.c;
      if (
        n > 0 && (
          checks + c.checks.length > l.checks || mutations + c.mutations > l.mutations ||
          bytes + c.bytes > l.bytes || keyBytes + c.keyBytes > l.keyBytes
        )
      ) break;
      checks += c.checks.length;
      mutations += c.mutations;
      bytes += c.bytes;
      keyBytes += c.keyBytes;
      n++;
    }
    this.#firsts = Math.max(0, this.#firsts - n);
    return this.#queue.splice(0, n);
  }

  #build(group: Pending[]): Deno.AtomicOperation {
    const op = this.#opts.atomic();
    let ends = false;
    for (const p of group) {
      for (const check of p.c.checks) op.check(check);
      p.c.apply(op);
      if (p.c.ends) ends = true;
    }
    this.#opts.finish?.(op, ends);
    return op;
  }
}
