/**
 * Aborting a run: ask the workflow service to stop the thread, give whoever reads its stream a
 * moment to log how it ends (one terminal event per run, and no error for that reader), and log
 * `workflow_aborted` when nobody did (a paused run has no upstream stream at all).
 * @module
 */
import type { RunSummary } from "../events.ts";
import type { Logger } from "../log.ts";
import { settledWithin } from "../async.ts";
import type { RunStore } from "../runs/store.ts";
import { isFinished } from "../runs/summary.ts";
import { GatewayError, runNotFound } from "./errors.ts";
import { eventData, type Records } from "./records.ts";
import type { RelayLease } from "./relay_lease.ts";
import { waitOnTail } from "./tail_wait.ts";
import type { Upstream } from "./upstream.ts";

/** How long an abort waits for the relay's own record of the run's end. */
const SETTLE_MS = 5_000;

/** What an abort needs from the gateway around it. */
export interface AbortDeps {
  /** The run log: the run's summary before and after, and the tail to wait on. */
  store: RunStore;
  /** The workflow service, asked to stop the thread. */
  upstream: Upstream;
  /** Where the abort logs, with the run's id and graph. */
  logger: Logger;
  /** Tells whether another live process relays the run. */
  lease: RelayLease;
  /** Appends `workflow_aborted` when nobody else recorded the end. */
  records: Records;
  /** The clock, ms since epoch (the timestamp of `workflow_aborted`). */
  now: () => number;
  /** The pump relaying the run in this process, if any. */
  pumpOf: (runId: string) => Promise<void> | undefined;
}

/**
 * Aborts a run and returns its summary afterwards.
 * @throws {GatewayError} `run_not_found`, `run_finished`.
 */
export async function abortRun(d: AbortDeps, runId: string): Promise<RunSummary> {
  const run = await d.store.get(runId);
  if (!run) throw runNotFound(runId);
  if (isFinished(run)) {
    throw new GatewayError(`Run ${runId} has already finished (${run.status})`, {
      type: "run_finished",
      runId,
    });
  }
  const log = d.logger.child({ run_id: runId, graph: run.graph });
  try {
    await d.upstream.abort(runId);
  } catch (err) {
    log.warn("upstream abort failed; recording the abort locally", { error: err });
  }
  const pump = d.pumpOf(runId);
  if (pump) await settledWithin(pump, SETTLE_MS);
  else if (run.status === "running" && await d.lease.relayedElsewhere(run)) {
    // Another live process reads the stream and will record how it ends: follow the tail
    // until that terminal event (nothing to find on the way).
    await waitOnTail(d.store, runId, run.eventCount, SETTLE_MS, () => undefined);
  }
  const after = await d.store.get(runId);
  if (after && !isFinished(after)) {
    const data = eventData(runId, d.now(), {});
    await d.records.appendSafe(runId, [{ type: "workflow_aborted", data }], after.graph, log);
  }
  log.info("run aborted");
  return (await d.store.get(runId)) ?? run;
}
