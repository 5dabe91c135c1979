/**
 * A resume addressed to a thread rather than to a run. LangGraph-era AG-UI clients (and
 * CopilotKit's legacy interrupt path) answer an interrupt with `forwardedProps.command.resume`
 * and a fresh `runId` in the same `threadId`: the gateway's run is the conversation's, not the
 * POST's. When the POST's run id names no run, the thread's run waiting on a gate is the one
 * meant, if there is exactly one.
 * @module
 */
import type { RunSummary } from "../../events.ts";
import type { RunStore } from "../../runs/store.ts";
import { GatewayError } from "../errors.ts";

/** How many of a thread's runs are looked at (newest first). */
const THREAD_RUNS = 50;

/**
 * The one run of `threadId` that waits on an approval gate, or undefined when none does.
 * @throws {GatewayError} `ambiguous_resume` naming the runs when more than one waits.
 */
export async function waitingRunOfThread(
  store: Pick<RunStore, "listByThread">,
  threadId: string,
): Promise<RunSummary | undefined> {
  const runs = await store.listByThread(threadId, THREAD_RUNS);
  const waiting = runs.filter((r) => r.status === "waiting_approval");
  if (waiting.length <= 1) return waiting[0];
  const ids = waiting.map((r) => r.id);
  throw new GatewayError(
    `Thread ${threadId} has ${ids.length} runs waiting for approval (${ids.join(", ")}): ` +
      "resume one by its interrupt id, or send its run id as runId",
    { type: "ambiguous_resume", details: { runs: ids } },
  );
}
