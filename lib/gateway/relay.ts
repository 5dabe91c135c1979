/**
 * The relay: one direction of flow, upstream → run log → subscribers (docs/architecture.md).
 *
 * A {@link Gateway} starts runs on the workflow service and pumps each upstream stream into the
 * run log; client connections never read the upstream, they subscribe to the log. That one rule
 * gives resume (replay after `Last-Event-ID`), many viewers per run, approvals handled by another
 * process, and no duplicate launches (a run id names one log, created atomically once). This
 * class only coordinates: starts, the pump, the lease, decisions and aborts live in their own
 * modules.
 * @module
 */
import type { RunSummary, StoredEvent } from "../events.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { RunStore } from "../runs/store.ts";
import { abortRun } from "./abort.ts";
import { type DecideResult, type DecisionInput, Decisions } from "./decisions.ts";
import { shuttingDown } from "./errors.ts";
import { pump } from "./pump.ts";
import { Records } from "./records.ts";
import { RelayLease } from "./relay_lease.ts";
import type { GatewayDeps, RelayParts } from "./relay_parts.ts";
import { RunBatches } from "./run_batches.ts";
import { type ResumePoint, Takeover } from "./takeover.ts";
import type { Upstream } from "./upstream.ts";
import { GraphCatalog } from "./graph_catalog.ts";
import { DEFAULT_MAX_STARTING_RUNS, StartGate } from "./start_gate.ts";
import { RunStarts, type Started } from "./run_start.ts";
import type { StartInput } from "./start_input.ts";
import type { BodyReader } from "./upstream_body.ts";
import { sleep } from "../async.ts";

export type { DecideResult, DecisionInput } from "./decisions.ts";
export type { GatewayDeps } from "./relay_parts.ts";

/**
 * While this process's commits are under way, a stream whose last read found its bytes waiting
 * (it sends faster than the log commits) reads next this long after its write
 * (`PumpDeps.pace`): its events then come in fewer, bigger reads, and each read costs an append,
 * a share of a commit and a client write. S2 (200 streams × 100 events/s): reads per event
 * 0.7–0.85 → 0.46–0.57, CPU per event −2 to −4 µs, p50 and first byte no worse; S3 is not paced
 * (its reads wait for data). Measured in docs/performance.md.
 */
const READ_PACE_MS = 8;

/** Starts runs, pumps upstream streams into the run log, and serves the log to subscribers. */
export class Gateway {
  readonly #store: RunStore;
  readonly #upstream: Upstream;
  readonly #metrics: Metrics;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #lease: RelayLease;
  readonly #records: Records;
  readonly #decisions: Decisions;
  readonly #takeover: Takeover;
  /** Runs whose upstream this process is reading, and the pump's completion. */
  readonly #pumps = new Map<string, Promise<void>>();
  /** The upstream readers of those pumps, cancelled on shutdown. */
  readonly #readers = new Map<string, BodyReader>();
  /** Runs between their claim and the start of their pump (waiting for `/execute`). */
  readonly #starting = new Set<string>();
  /** Creates and launches new runs. */
  readonly #starts: RunStarts;
  /** The places of starts in progress, taken by the HTTP layer (see {@link startGate}). */
  readonly #gate: StartGate;
  /** Aborts upstream calls still waiting for an answer when the process shuts down. */
  readonly #stop = new AbortController();
  #closing = false;

  /** A gateway over `deps`; the takeover sweep starts only when asked to. */
  constructor(deps: GatewayDeps) {
    this.#store = deps.store;
    this.#upstream = deps.upstream;
    this.#metrics = deps.metrics;
    this.#log = deps.logger;
    this.#now = deps.now ?? Date.now;
    this.#records = new Records(deps.store, deps.metrics, this.#now);
    const recordError = this.#records.recordError.bind(this.#records);
    const stopUpstream = (runId: string, log: Logger) =>
      this.#upstream.abort(runId).catch((err) =>
        log.warn("could not stop the workflow upstream", { error: err })
      );
    this.#lease = new RelayLease({
      store: deps.store,
      metrics: deps.metrics,
      logger: deps.logger,
      leaseMs: deps.leaseMs ?? 30_000,
      now: this.#now,
      owner: deps.instanceId ?? crypto.randomUUID(),
      relayedHere: (runId) => this.#pumps.has(runId) || this.#starting.has(runId),
      takeOver: (runId) => this.#takeover.tryTakeOver(runId, "client"),
    });
    const parts: RelayParts = {
      store: deps.store,
      upstream: deps.upstream,
      metrics: deps.metrics,
      logger: deps.logger,
      lease: this.#lease,
      now: this.#now,
      closing: () => this.#closing,
      signal: this.#stop.signal,
      starting: (runId) => this.#markStarting(runId),
    };
    this.#gate = new StartGate(deps.maxStartingRuns ?? DEFAULT_MAX_STARTING_RUNS);
    this.#starts = new RunStarts({
      ...parts,
      graphs: new GraphCatalog(deps.upstream, this.#now),
      records: this.#records,
      launch: (runId, graph, body, log) => this.#launch(runId, graph, body, log),
    });
    this.#takeover = new Takeover({
      ...parts,
      onRelayLost: deps.onRelayLost ?? "leave",
      sweepMs: deps.sweepMs ?? 1_000,
      rejoinForMs: deps.rejoinForMs,
      relayedHere: (runId) => this.#pumps.has(runId) || this.#starting.has(runId),
      startingHere: (runId) => this.#starting.has(runId),
      launch: (runId, graph, body, log, from) => this.#launch(runId, graph, body, log, from),
      recordError,
    });
    this.#decisions = new Decisions({
      ...parts,
      launch: (runId, graph, body, log, step) => this.#launch(runId, graph, body, log, step),
      waitMs: deps.decisionWaitMs,
    });
    this.#pumpDeps = {
      store: deps.store,
      metrics: deps.metrics,
      now: this.#now,
      closing: () => this.#closing,
      recordError,
      stopUpstream,
      countFinished: (events, graph) => this.#records.countFinished(events, graph),
      isAfter: (a, b) => this.#upstream.isAfter(a, b),
      pace: () => deps.store.committing?.() ? sleep(READ_PACE_MS) : undefined,
    };
  }

  /**
   * Starts looking for runs to take over: once now (a gateway that starts takes back the runs
   * of a process that died), then every `sweepMs`. Not started by the constructor, so a test's
   * gateway sweeps only when it asks to.
   */
  startTakeover(): void {
    this.#takeover.start();
  }

  /** Looks for runs to take over once, now (tests; the periodic sweep does the same). */
  sweep(): Promise<void> {
    return this.#takeover.sweep();
  }

  readonly #pumpDeps: Parameters<typeof pump>[0];

  /** The run store (read access for routes). */
  get store(): RunStore {
    return this.#store;
  }

  /** How many runs this process is relaying now. */
  get activeRelays(): number {
    return this.#pumps.size;
  }

  /**
   * Starts a run, or attaches to it when `runId` names an existing run (never a second launch).
   * A failure after the run was created is also logged as the run's `workflow_error`. How many
   * are in progress at once is the caller's to bound, with {@link startGate}.
   * @throws {GatewayError} `shutting_down`, `unknown_graph`, `conflict`, `upstream_refused`.
   */
  start(input: StartInput): Promise<Started> {
    return this.#starts.start(input);
  }

  /**
   * The places of starts in progress (`maxStartingRuns`), taken by the HTTP layer's start
   * admission before the app works on a start; shutdown closes it.
   */
  get startGate(): StartGate {
    return this.#gate;
  }

  /** Runs starts waiting for their turn (for `/metrics`). */
  get startsWaiting(): number {
    return this.#gate.waiting;
  }

  /**
   * Records a human decision on the step the run waits on and resumes the upstream thread; the
   * continuation's events append to the same run (the workflow dialect's approval).
   * @throws {GatewayError} see {@link Decisions.record}.
   */
  approve(runId: string, decision: DecisionInput): Promise<RunSummary> {
    return this.#decisions.record(runId, decision);
  }

  /**
   * Like {@link approve}, but a gate decided already (at `gateSeq`) is judged as a retry: the
   * same decision is fine, another one is `decision_conflict` (the AG-UI resume).
   */
  decide(runId: string, decision: DecisionInput, gateSeq: number): Promise<DecideResult> {
    return this.#decisions.decide(runId, decision, gateSeq);
  }

  /**
   * Aborts a run: the upstream is asked to stop the thread and the run ends with one
   * `workflow_aborted` (logged here when the upstream's stream did not end it).
   * @throws {GatewayError} `run_not_found`, `run_finished`.
   */
  abort(runId: string): Promise<RunSummary> {
    return abortRun({
      store: this.#store,
      upstream: this.#upstream,
      logger: this.#log,
      lease: this.#lease,
      records: this.#records,
      now: this.#now,
      pumpOf: (id) => this.#pumps.get(id),
    }, runId);
  }

  /**
   * The run's events after `afterSeq` in batches: replay, then live until the terminal event,
   * which ends the last batch. While anyone watches, the lease watchdog looks after the run (a
   * running run whose relay is gone is taken over here). A consumer that stops early calls
   * `return()` (see {@link RunBatches}).
   */
  eventBatches(
    runId: string,
    afterSeq: number,
    signal?: AbortSignal,
  ): AsyncIterableIterator<StoredEvent[]> {
    return new RunBatches(this.#lease, this.#store, runId, afterSeq, signal);
  }

  /**
   * Graceful shutdown, a handover: refuse new work, stop upstream calls still waiting for an
   * answer, stop reading the upstream streams, wait until what was read is committed, and only
   * then give up this process's lease, so another gateway takes the runs over at its next sweep
   * and rejoins after exactly what this one logged.
   */
  async shutdown(opts: { keepLease?: boolean } = {}): Promise<void> {
    this.#closing = true;
    this.#gate.close(shuttingDown());
    this.#stop.abort(new Error("The gateway is shutting down"));
    await this.#takeover.stop();
    for (const reader of this.#readers.values()) reader.cancel("shutdown").catch(() => {});
    await this.drain();
    if (!opts.keepLease) await this.#lease.release();
  }

  /**
   * Gives up this process's lease (after `shutdown({keepLease: true})`): the handover. Separate
   * so an in-process workflow service can stop its threads and release them first, and the
   * gateway that takes the runs over finds them ready to resume.
   */
  async releaseLease(): Promise<void> {
    await this.#lease.release();
  }

  /** Waits for every local pump to finish (tests, shutdown). */
  async drain(): Promise<void> {
    while (this.#pumps.size > 0) await Promise.allSettled([...this.#pumps.values()]);
  }

  #markStarting(runId: string): () => void {
    this.#starting.add(runId);
    return () => this.#starting.delete(runId);
  }

  /**
   * Pumps `body` into run `runId`. `from` (a decision's step, or where a takeover found the log)
   * says what the log holds already; a takeover that ends at the gate the log already held
   * reopens it (see {@link Takeover.reopenGate}).
   */
  #launch(
    runId: string,
    graph: string,
    body: ReadableStream<Uint8Array>,
    log: Logger,
    from?: string | ResumePoint,
  ): void {
    const point = typeof from === "object" ? from : undefined;
    const done = pump(this.#pumpDeps, {
      runId,
      graph,
      body,
      log,
      resumedStep: typeof from === "string" ? from : point?.resumedStep,
      afterId: point?.afterId,
      lastType: point?.lastType,
      relayOwner: this.#lease.owner,
      reconnect: this.#takeover.reconnect(runId, log),
      onReader: (r) => r ? this.#readers.set(runId, r) : this.#readers.delete(runId),
    })
      .then(async (outcome) => {
        if (!point || outcome !== "paused") return;
        const decision = await this.#takeover.reopenGate(runId, log, point);
        // The decision was accepted (202) before its relay died: send it, do not lose it.
        if (decision) {
          await this.#decisions.record(runId, decision).then(
            () => log.info("accepted decision sent again after the takeover"),
            (err) => log.warn("could not send the accepted decision again", { error: err }),
          );
        }
      })
      .catch((err) => log.error("relay failed", { error: err }))
      .finally(() => {
        if (this.#pumps.get(runId) === done) this.#pumps.delete(runId);
      });
    this.#pumps.set(runId, done);
  }
}
