/**
 * Waiting for something another caller (or process) will write to a run's log, without polling:
 * follow the run's live tail until a batch holds it, the run ends, or the deadline passes.
 * @module
 */
import type { StoredEvent } from "../events.ts";
import { RunNotFoundError, type RunStore } from "../runs/store.ts";

/**
 * The first non-undefined `find(batch)` over the run's events after `afterSeq`, following the
 * live tail for at most `ms`; undefined when the run ended, vanished or the time ran out first.
 */
export async function waitOnTail<T>(
  store: Pick<RunStore, "subscribe">,
  runId: string,
  afterSeq: number,
  ms: number,
  find: (batch: readonly StoredEvent[]) => T | undefined,
): Promise<T | undefined> {
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), ms);
  try {
    // The subscription ends by itself after the run's terminal event.
    for await (const batch of store.subscribe(runId, afterSeq, stop.signal)) {
      const found = find(batch);
      if (found !== undefined) return found;
    }
  } catch (err) {
    if (!(err instanceof RunNotFoundError)) throw err;
  } finally {
    clearTimeout(timer);
    stop.abort();
  }
  return undefined;
}
