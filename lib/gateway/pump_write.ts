/**
 * The pump's answers to a failing run log write: retries for what a retry can fix, and the end
 * of a run whose log refused its events (`pump.ts`).
 * @module
 */
import { ERROR_CODES } from "../events.ts";
import type { Logger } from "../log.ts";
import { sleep } from "../async.ts";
import {
  type AppendOptions,
  EventTooLargeError,
  type NewEvent,
  RelayFencedError,
  RunClosedError,
  RunNotFoundError,
  type RunStore,
} from "../runs/store.ts";
import { isFinished, type summaryPatch } from "../runs/summary.ts";
import type { Metrics } from "../metrics.ts";

/**
 * What the write-failure path needs of the pump's deps (`PumpDeps` has it all; declared here so
 * this module does not import the pump back).
 */
export interface WriteFailureDeps {
  /** The run log. */
  store: RunStore;
  /** Counts the failure. */
  metrics: Metrics;
  /** Ends the run with a gateway-made `workflow_error` (unless it already ended). */
  recordError: (
    runId: string,
    graph: string,
    log: Logger,
    failure: { code: string; message: string },
  ) => Promise<void>;
  /** Asks the workflow service to stop the thread; never throws. */
  stopUpstream: (runId: string, log: Logger) => Promise<void>;
}

/**
 * The log refused the relay's writes. A run that another process closed meanwhile (an abort
 * handled there) simply ended; otherwise the run is failed loudly and stopped upstream.
 */
export async function logWriteFailed(
  deps: WriteFailureDeps,
  runId: string,
  graph: string,
  err: unknown,
  log: Logger,
): Promise<"stopped" | "failed"> {
  if (err instanceof RelayFencedError) {
    // Another gateway took the run over (this one stalled past its lease): it relays now.
    log.warn("run taken over by another gateway; this relay stops", { owner: err.owner ?? null });
    return "stopped";
  }
  const run = await deps.store.get(runId).catch(() => null);
  if (err instanceof RunClosedError && run && isFinished(run)) {
    log.info("run ended elsewhere while this relay was reading it", { status: run.status });
    return "stopped";
  }
  deps.metrics.upstreamErrors.inc({ code: ERROR_CODES.logWriteFailed });
  log.error("run log append failed; the run is stopped", { error: err });
  await deps.recordError(runId, graph, log, {
    code: ERROR_CODES.logWriteFailed,
    message: "The run log could not store the run's events; the run was stopped",
  });
  await deps.stopUpstream(runId, log);
  return "failed";
}

/**
 * Retries an append whose first try failed with `first`, for what a retry can fix (a busy
 * store), with backoff.
 */
export async function appendWithRetry(
  store: RunStore,
  runId: string,
  batch: NewEvent[],
  patch: ReturnType<typeof summaryPatch>,
  log: Logger,
  opts: AppendOptions | undefined,
  first: unknown,
): Promise<void> {
  let err = first;
  for (let attempt = 0;; attempt++) {
    // A closed run (its terminal is already logged), a vanished one, or an event the log can
    // never hold: retrying cannot help.
    if (
      attempt >= 4 || err instanceof RunClosedError || err instanceof RunNotFoundError ||
      err instanceof EventTooLargeError || err instanceof TypeError ||
      err instanceof RelayFencedError
    ) {
      throw err;
    }
    log.warn("run log append failed, retrying", { attempt: attempt + 1, error: err });
    await sleep(50 * 2 ** attempt);
    try {
      await store.append(runId, batch, patch, opts);
      return;
    } catch (e) {
      err = e;
    }
  }
}
