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

/** What to do at the workflow service when a run's relay is lost for good. */
export type OnRelayLost = "leave" | "abort";

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

/** What the gateway needs; everything is injected so tests run it against real parts. */
export interface GatewayDeps {
  /** The run log. */
  store: RunStore;
  /** The workflow service client. */
  upstream: Upstream;
  /** The process's Prometheus metrics. */
  metrics: Metrics;
  /** Where the gateway logs. */
  logger: Logger;
  /**
   * How long this process's relay lease lasts without renewal (ms). One lease per process (not
   * per run), renewed every third of it: a run whose relaying process let it lapse is lost.
   */
  leaseMs?: number;
  /** Clock (ms since epoch). */
  now?: () => number;
  /** This process's identity in run leases. */
  instanceId?: string;
  /** The longest wait for another caller's decision record (ms; default 3000). */
  decisionWaitMs?: number;
  /** `RELAY_SWEEP_MS`: how often to look for runs to take over (default 1000; 0 = never). */
  sweepMs?: number;
  /**
   * `MAX_STARTING_RUNS`: places of the gateway's start gate (default 32), which the
   * HTTP layer's start admission takes for each start request until it is answered.
   */
  maxStartingRuns?: number;
  /** `ON_RELAY_LOST`: stop a thread the gateway cannot rejoin at the service? (default leave) */
  onRelayLost?: OnRelayLost;
  /** The longest time a rejoin is retried while the service fails (ms; default 60 s). */
  rejoinForMs?: number;
}
