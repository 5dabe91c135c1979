/**
 * Starting a run: the run's creation in the log (a retry of a run id attaches to it, never
 * launches it twice), the workflow service's `/execute`, and the run's `workflow_error` when the
 * service refuses. The answered stream goes to the relay's pump through `launch`. How many start
 * at once is bounded in front of the app (`lib/http/start_admission.ts`).
 * @module
 */
import { ERROR_CODES, type RunSummary } from "../events.ts";
import type { Logger } from "../log.ts";
import { asUpstreamError, GatewayError, shuttingDown, upstreamRefused } from "./errors.ts";
import type { GraphCatalog } from "./graph_catalog.ts";
import type { Records } from "./records.ts";
import type { RelayParts } from "./relay_parts.ts";
import { digestStartInput, newRunSummary, type StartInput } from "./start_input.ts";

/** A start's outcome: the run, and whether this call created it (false: attached to it). */
export interface Started {
  /** The run's summary as created, or as found when attaching. */
  run: RunSummary;
  /** True when this call created the run and launched it. */
  created: boolean;
}

/** What starting runs needs beyond the relay's shared parts. */
export interface RunStartDeps extends RelayParts {
  /** The workflow service's graph list, checked by every start. */
  graphs: GraphCatalog;
  /** Writes a run's terminal error when the service refuses it. */
  records: Records;
  /** Hands the service's answer to the relay's pump. */
  launch: (runId: string, graph: string, body: ReadableStream<Uint8Array>, log: Logger) => void;
}

/** Creates and launches new runs for the relay. */
export class RunStarts {
  readonly #deps: RunStartDeps;

  /** Starts runs with `deps`. */
  constructor(deps: RunStartDeps) {
    this.#deps = deps;
  }

  /**
   * Starts a run, or attaches to it when `runId` names an existing run.
   * @throws {GatewayError} `shutting_down`, `unknown_graph`, `conflict`, `upstream_refused`.
   */
  start(input: StartInput): Promise<Started> {
    if (this.#deps.closing()) return Promise.reject(shuttingDown());
    return this.#begin(input);
  }

  async #begin(input: StartInput): Promise<Started> {
    const { store, lease, metrics } = this.#deps;
    if (this.#deps.closing()) throw shuttingDown();
    const runId = input.runId ?? crypto.randomUUID();
    // No read first: the create refuses an id in use (the run is read and attached to then), so
    // a new run's first byte waits for one KV round trip less.
    try {
      await this.#deps.graphs.check(input.graph);
    } catch (err) {
      // A retry of a run whose graph the service no longer lists still attaches to the run.
      const existing = input.runId === undefined ? null : await store.get(runId);
      if (existing) return { run: existing, created: false };
      throw err;
    }
    // The lease must exist before the run names this process as its relay.
    await lease.ensureAlive();
    const summary = newRunSummary(
      input,
      runId,
      this.#deps.now(),
      digestStartInput(input.initialState),
      lease.claim(),
    );
    if (!(await store.create(summary))) {
      // Lost a race with a concurrent start of the same id: attach to the winner's run.
      const run = await store.get(runId);
      if (run) return { run, created: false };
      throw new GatewayError("The run was created and removed concurrently", {
        type: "conflict",
        runId,
      });
    }
    // Marked in the same tick as the create resolves: no watchdog can look in between and
    // take the run for one without a relay.
    const unmark = this.#deps.starting(runId);
    metrics.runsStarted.inc({ graph: input.graph });
    // Returned, not awaited: this frame (and what it holds) ends here instead of staying
    // suspended for as long as the workflow service takes to answer.
    return this.#execute(runId, input.graph, input.initialState).then(() => {
      unmark();
      return { run: summary, created: true };
    }, (err) => {
      unmark();
      throw err;
    });
  }

  /**
   * Calls the upstream's `/execute` for a new run and starts its pump. A promise chain, not an
   * async function: what waits on the service is the run id and graph, not a suspended frame
   * with the start's input; the run's logger is made once the service answered.
   */
  #execute(runId: string, graph: string, initialState: Record<string, unknown>): Promise<void> {
    let answer: Promise<ReadableStream<Uint8Array>>;
    try {
      answer = this.#deps.upstream.execute({
        graph_name: graph,
        initial_state: initialState,
        thread_id: runId,
      }, this.#deps.signal);
    } catch (err) {
      answer = Promise.reject(err);
    }
    return answer.then(
      (body) => this.#deps.launch(runId, graph, body, this.#runLog(runId, graph)),
      (err) => this.#refused(runId, graph, err),
    );
  }

  /** The logger of one run relayed here. */
  #runLog(runId: string, graph: string): Logger {
    return this.#deps.logger.child({ run_id: runId, graph });
  }

  /** `/execute` failed: the run's `workflow_error`, then the error for the caller. */
  async #refused(runId: string, graph: string, err: unknown): Promise<never> {
    const { records, upstream, metrics } = this.#deps;
    const log = this.#runLog(runId, graph);
    if (this.#deps.signal.aborted) {
      log.warn("shutdown while the workflow service was starting the run");
      await records.recordError(runId, graph, log, {
        code: ERROR_CODES.shutdown,
        message: "The gateway shut down while the workflow service was starting the run",
      });
      await upstream.abort(runId).catch(() => {});
      throw shuttingDown();
    }
    const e = asUpstreamError(err);
    metrics.upstreamErrors.inc({ code: e.code });
    log.error("upstream refused the run", { code: e.code, error: e.message, body: e.body });
    // The run log (and through it clients and pages) gets the generic words only.
    await records.recordError(runId, graph, log, { code: e.code, message: e.publicMessage });
    throw upstreamRefused(e, runId);
  }
}
