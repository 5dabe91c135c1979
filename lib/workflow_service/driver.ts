/**
 * Runs threads for the service: starts, resumes and recovers segments of a thread on the
 * LangGraph runtime and writes their events to the {@link ThreadStore}, owning each running
 * thread through a lease.
 *
 * Ownership: a running thread's record names the process (`owner`) that runs it; that process
 * keeps `[…, "a", owner]` alive (renewed every third of `leaseMs` while it runs threads). A
 * running thread whose owner's lease lapsed was cut by a crash: the first process to touch it
 * claims it (a versionstamp-checked write, so exactly one wins) and goes on from the last
 * checkpoint. Each segment's checked writes and its end are `segment.ts`'s.
 * @module
 */
import type { BaseCheckpointSaver } from "@langchain/langgraph";
import type { Logger } from "../log.ts";
import type { ThreadHub } from "./follow.ts";
import { WORKFLOWS } from "./graphs.ts";
import { snakeKeys } from "./http.ts";
import type { ResumeDecision, RunRequest, WorkflowRuntime } from "./runner.ts";
import { Segment, type SegmentContext, stampData } from "./segment.ts";
import type { RunOptions } from "./spec.ts";
import type { ThreadStatus, ThreadStore, Versioned } from "./thread_store.ts";

/** Settings of a {@link ThreadDriver}. */
export interface DriverOptions {
  /** Where threads live. */
  store: ThreadStore;
  /** Wakes this process's followers of a thread on every write. */
  hub: ThreadHub;
  /** Where logs go. */
  log: Logger;
  /** The clock for `ts` and documents. */
  now: () => Date;
  /** Delay before each task step, ms. */
  stepDelayMs: number;
  /** Lease length, ms. */
  leaseMs: number;
  /** Most threads this process runs at once. */
  maxRunning: number;
  /** Makes the checkpointer when the runtime loads. */
  checkpointer: () => Promise<BaseCheckpointSaver>;
  /** Keep a running thread's state on close (durable store) instead of ending it. */
  durable: boolean;
}

/** Runs the threads of one process. */
export class ThreadDriver {
  /** This process's id in thread records. */
  readonly owner: string = crypto.randomUUID();
  readonly #o: DriverOptions;
  /** What every segment of this driver uses (see {@link Segment}). */
  readonly #ctx: SegmentContext;
  readonly #segments = new Map<string, Segment>();
  /** Threads a start or resume of this process is writing: never taken over meanwhile. */
  readonly #starting = new Set<string>();
  #runtime?: Promise<WorkflowRuntime>;
  #renewTimer?: ReturnType<typeof setInterval>;
  #closed = false;

  /** A driver with no thread running yet. */
  constructor(opts: DriverOptions) {
    this.#o = opts;
    this.#ctx = {
      store: opts.store,
      hub: opts.hub,
      log: opts.log,
      now: opts.now,
      owner: this.owner,
      durable: opts.durable,
      load: () => this.load(),
      loaded: () => this.loaded(),
    };
  }

  /** Threads running in this process. */
  get running(): number {
    return this.#segments.size;
  }

  /** True when this process runs thread `id`. */
  runs(id: string): boolean {
    return this.#segments.has(id);
  }

  /** Loads LangGraph and compiles the graphs (once; a failure is retried next time). */
  load(): Promise<WorkflowRuntime> {
    this.#runtime ??= (async () => {
      const [m, checkpointer] = await Promise.all([
        import("./runner.ts"),
        this.#o.checkpointer(),
      ]);
      const rt = m.createRuntime(WORKFLOWS, {
        stepDelayMs: this.#o.stepDelayMs,
        now: this.#o.now,
        checkpointer,
      });
      this.#o.log.info("workflow engine loaded", {
        graphs: WORKFLOWS.size,
        step_delay_ms: this.#o.stepDelayMs,
      });
      return rt;
    })();
    this.#runtime.catch(() => (this.#runtime = undefined));
    return this.#runtime;
  }

  /** The loaded runtime, if any. */
  async loaded(): Promise<WorkflowRuntime | undefined> {
    return this.#runtime ? await this.#runtime.catch(() => undefined) : undefined;
  }

  /** Stamps `workflowId` and `ts` on an event's data. */
  #data(id: string, data: Record<string, unknown>): string {
    return stampData(id, data, this.#o.now);
  }

  /** Makes sure this process's lease is written and renewed while it runs threads. */
  async #holdLease(): Promise<void> {
    const { store, leaseMs } = this.#o;
    await store.setAlive(this.owner, Date.now() + leaseMs);
    if (this.#renewTimer !== undefined) return;
    this.#renewTimer = setInterval(() => void this.#renew(), Math.max(10, leaseMs / 3));
  }

  async #renew(): Promise<void> {
    if (this.#segments.size === 0) {
      clearInterval(this.#renewTimer);
      this.#renewTimer = undefined;
      return;
    }
    try {
      await this.#o.store.setAlive(this.owner, Date.now() + this.#o.leaseMs);
      // An abort asked through another process shows in the record.
      for (const [id, seg] of this.#segments) {
        const cur = await this.#o.store.get(id);
        if (cur?.row.abort && !seg.controller.signal.aborted) seg.abort("user");
      }
    } catch (err) {
      this.#o.log.warn("lease renewal failed", { err });
    }
  }

  /** True when this process may take one more thread. */
  hasRoom(): boolean {
    return this.#segments.size < this.#o.maxRunning;
  }

  /** Creates and starts a thread; undefined when it exists already. */
  async start(
    id: string,
    graph: string,
    start: { input: unknown; options: RunOptions },
  ): Promise<Versioned | undefined> {
    const spec = WORKFLOWS.get(graph)!;
    this.#starting.add(id);
    try {
      return await this.#create(id, spec, start);
    } finally {
      this.#starting.delete(id);
    }
  }

  async #create(
    id: string,
    spec: NonNullable<ReturnType<typeof WORKFLOWS.get>>,
    start: { input: unknown; options: RunOptions },
  ): Promise<Versioned | undefined> {
    await this.#holdLease();
    const created = await this.#o.store.create({
      id,
      graph: spec.info.name,
      status: "running",
      seq: 0,
      first: 1,
      start,
      owner: this.owner,
      updatedAt: this.#o.now().getTime(),
    }, [{
      type: "workflow_initialized",
      data: this.#data(id, {
        graph: spec.info.name,
        title: spec.info.title,
        steps: spec.steps.map((s) => ({ name: s.name, title: s.title, kind: s.kind })),
        input: snakeKeys(start.input),
      }),
    }]);
    if (!created) return undefined;
    this.#o.hub.notify(id);
    this.#launch(created.versioned, {});
    return created.versioned;
  }

  /**
   * Accepts a decision for a waiting thread and runs it on. Returns the id of the event before
   * `approval_resolved`, or undefined when the record changed meanwhile (the caller re-checks).
   */
  async resume(current: Versioned, decision: ResumeDecision): Promise<number | undefined> {
    const id = current.row.id;
    this.#starting.add(id);
    try {
      await this.#holdLease();
      return await this.#accept(current, decision);
    } finally {
      this.#starting.delete(id);
    }
  }

  async #accept(current: Versioned, decision: ResumeDecision): Promise<number | undefined> {
    const { stepId, comment } = decision;
    const id = current.row.id;
    // One checked write and no retry: a racing resume that got there first wins.
    const res = await this.#o.store.append(current, [{
      type: "approval_resolved",
      data: this.#data(id, {
        stepId,
        decision: decision.decision,
        ...(comment !== undefined ? { comment } : {}),
      }),
    }], { status: "running", pending: undefined, decision, owner: this.owner });
    if (!res) return undefined;
    this.#o.hub.notify(id);
    this.#run(id, this.#newSegment(res.versioned), { resume: decision });
    return res.events[0].id - 1;
  }

  #newSegment(current: Versioned): Segment {
    return new Segment(this.#ctx, current);
  }

  #launch(current: Versioned, run: Pick<RunRequest, "resume" | "recover">): void {
    const seg = this.#newSegment(current);
    this.#run(current.row.id, seg, run);
  }

  /**
   * Takes over thread `id` when it runs nowhere (its owner's lease lapsed): claims it and goes
   * on from its last checkpoint. Does nothing for a thread that is not running, runs here, or
   * runs in a live process.
   */
  async recoverIfOrphaned(id: string): Promise<void> {
    const busy = () => this.#segments.has(id) || this.#starting.has(id);
    if (this.#closed || busy() || !this.hasRoom()) return;
    const cur = await this.#o.store.get(id);
    if (!cur || cur.row.status !== "running" || busy()) return;
    // This process's own thread with no segment here was left by a failed write: it is ours to
    // go on with, even though this process's lease is alive.
    const mine = cur.row.owner === this.owner;
    if (!mine && cur.row.owner && await this.#o.store.isAlive(cur.row.owner)) return;
    await this.#holdLease();
    const seg = this.#newSegment(cur);
    if (busy()) return;
    this.#segments.set(id, seg);
    try {
      const res = await this.#o.store.append(cur, [], { owner: this.owner });
      if (!res) {
        this.#segments.delete(id);
        return;
      }
      seg.current = res.versioned;
    } catch (err) {
      this.#segments.delete(id);
      throw err;
    }
    this.#o.log.warn("thread taken over after its process stopped", {
      thread_id: id,
      previous_owner: cur.row.owner,
    });
    this.#run(id, seg, {
      recover: true,
      ...(cur.row.decision ? { resume: cur.row.decision } : {}),
    });
  }

  #run(id: string, seg: Segment, run: Pick<RunRequest, "resume" | "recover">): void {
    this.#segments.set(id, seg);
    seg.done = seg.drive(run).finally(() => {
      if (this.#segments.get(id) === seg) this.#segments.delete(id);
      this.#o.hub.notify(id);
    });
  }

  /**
   * Takes over every running thread whose process is gone (as far as this process has room);
   * returns how many it took.
   */
  async recoverOrphans(): Promise<number> {
    let taken = 0;
    for (const id of await this.#o.store.runningIds()) {
      if (this.#closed || !this.hasRoom()) break;
      if (this.#segments.has(id)) continue;
      await this.recoverIfOrphaned(id);
      if (this.#segments.has(id)) taken++;
    }
    return taken;
  }

  /**
   * Aborts thread `id`: here when it runs here; through its record when it runs elsewhere (its
   * owner sees the request at its next write or lease renewal); at once when it waits or its
   * process is gone. Resolves with the thread's status once settled (or still `running` if the
   * owner did not answer within a lease).
   */
  async abort(id: string): Promise<ThreadStatus | undefined> {
    await this.recoverIfOrphaned(id).catch(() => {});
    const deadline = Date.now() + this.#o.leaseMs * 2;
    while (true) {
      const seg = this.#segments.get(id);
      if (seg) {
        if (!seg.controller.signal.aborted) seg.abort("user");
        await seg.done;
      }
      const cur = await this.#o.store.get(id);
      if (!cur) return undefined;
      const { row } = cur;
      if (row.status === "waiting") {
        const res = await this.#o.store.append(cur, [{
          type: "workflow_aborted",
          data: this.#data(id, {}),
        }], { status: "aborted", pending: undefined });
        if (!res) continue;
        this.#o.hub.notify(id);
        (await this.loaded())?.forget(id).catch(() => {});
        this.#o.log.info("waiting run aborted", { thread_id: id });
        return "aborted";
      }
      if (row.status !== "running" || this.#segments.has(id)) return row.status;
      if (!row.abort) await this.#o.store.append(cur, [], { abort: true });
      if (Date.now() > deadline) return row.status;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Stops every segment. A durable store keeps their threads running for the next process (and
   * the lease is released so it need not wait); otherwise they end with `workflow_error`
   * (`shutdown`).
   */
  async close(): Promise<void> {
    this.#closed = true;
    const segs = [...this.#segments.values()];
    for (const seg of segs) seg.abort("shutdown");
    await Promise.all(segs.map((s) => s.done));
    clearInterval(this.#renewTimer);
    this.#renewTimer = undefined;
    await this.#o.store.release(this.owner).catch(() => {});
  }
}
