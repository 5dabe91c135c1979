/**
 * What the relay's parts that act on a run (the decision path, the takeover) share from the
 * gateway around them: the run log, the workflow service, this process's lease, the clock and
 * the shutdown state. One definition, so the coordinator builds it once and each part states
 * only what it adds.
 * @module
 */
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { RunStore } from "../runs/store.ts";
import type { RelayLease } from "./relay_lease.ts";
import type { Upstream } from "./upstream.ts";

/** The gateway's parts a run-level action needs. */
export interface RelayParts {
  /** The run log. */
  store: RunStore;
  /** The workflow service. */
  upstream: Upstream;
  /** Counters. */
  metrics: Metrics;
  /** Where the part reports. */
  logger: Logger;
  /** This process's relay lease (its identity, liveness of others). */
  lease: RelayLease;
  /** Clock (ms since epoch). */
  now: () => number;
  /** True once the process is shutting down. */
  closing: () => boolean;
  /** Aborts upstream calls on shutdown. */
  signal: AbortSignal;
  /** Marks the run as being started here (no takeover or relay_lost meanwhile); returns the unmarker. */
  starting: (runId: string) => () => void;
}
