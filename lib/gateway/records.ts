/**
 * The events the gateway writes itself (an approval's decision, an abort, a failure), as opposed
 * to those it relays. Each run gets exactly one terminal event: these writes skip a run that has
 * already ended, and the log refuses anything after a terminal event anyway.
 * @module
 */
import { isTerminalType } from "../events.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { NewEvent, RunStore } from "../runs/store.ts";
import { isFinished, summaryPatch } from "../runs/summary.ts";

/** The data JSON of a gateway-made event. */
export function eventData(runId: string, ts: number, fields: Record<string, unknown>): string {
  return JSON.stringify({ workflowId: runId, ts: new Date(ts).toISOString(), ...fields });
}

/** Writes gateway-made events and counts finished runs. */
export class Records {
  readonly #store: RunStore;
  readonly #metrics: Metrics;
  readonly #now: () => number;

  /** Writes to `store`, counts finished runs in `metrics`, stamps events with `now` (ms). */
  constructor(store: RunStore, metrics: Metrics, now: () => number) {
    this.#store = store;
    this.#metrics = metrics;
    this.#now = now;
  }

  /** Ends the run with a gateway-made `workflow_error` (unless it already ended). */
  recordError(
    runId: string,
    graph: string,
    log: Logger,
    failure: { code: string; message: string },
  ): Promise<void> {
    const data = eventData(runId, this.#now(), { ...failure, retries: 0 });
    return this.appendSafe(runId, [{ type: "workflow_error", data }], graph, log);
  }

  /** Appends gateway-made events unless the run already ended; failures are logged. */
  async appendSafe(runId: string, events: NewEvent[], graph: string, log: Logger): Promise<void> {
    try {
      const run = await this.#store.get(runId);
      if (!run || isFinished(run)) return;
      const now = this.#now();
      const patch = { ...summaryPatch(events, now), updatedAt: new Date(now).toISOString() };
      await this.#store.append(runId, events, patch);
      this.countFinished(events, graph);
    } catch (err) {
      log.error("could not record a gateway event", { error: err });
    }
  }

  /** Counts the terminal events of a batch in `runsFinished`, by graph and status. */
  countFinished(events: readonly NewEvent[], graph: string): void {
    for (const ev of events) {
      if (!isTerminalType(ev.type)) continue;
      const status = ev.type === "workflow_complete"
        ? (JSON.parse(ev.data).status === "rejected" ? "rejected" : "complete")
        : ev.type === "workflow_error"
        ? "error"
        : "aborted";
      this.#metrics.runsFinished.inc({ graph, status });
    }
  }
}
