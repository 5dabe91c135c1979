/**
 * The process's services, built once from the configuration: logger, metrics, run store,
 * workflow service client and gateway. Routes reach them through `ctx.state.services`; tests
 * build their own with another config (port 0, `:memory:` KV, a fake upstream).
 * @module
 */
import type { Config } from "./config.ts";
import { createLogger, type Logger } from "./log.ts";
import { Gauge, Metrics } from "./metrics.ts";
import { DEFAULT_KV_PATH, KvRunStore, openKvRunStore } from "./runs/kv_store.ts";
import type { RunStore } from "./runs/store.ts";
import { createUpstream, type Upstream } from "./gateway/upstream.ts";
import { Gateway } from "./gateway/relay.ts";
import { StreamRegistry } from "./gateway/streams.ts";
import { RateLimiter } from "./http/rate_limit.ts";
import { ClientStreams } from "./http/client_streams.ts";

/** Everything a request handler may need. */
export interface Services {
  /** The validated configuration the process started with. */
  config: Config;
  /** The process's root logger. */
  logger: Logger;
  /** The process's Prometheus metrics. */
  metrics: Metrics;
  /** The run log (Deno KV). */
  store: RunStore;
  /** The workflow service client. */
  upstream: Upstream;
  /** Starts, relays, decides and aborts runs. */
  gateway: Gateway;
  /** The open client event streams, for shutdown and `/health`. */
  streams: StreamRegistry;
  /** Per-client limit on starting runs (`RATE_LIMIT_PER_MINUTE`, `RATE_LIMIT_BURST`). */
  rateLimiter: RateLimiter;
  /** Per-client limit on opening event streams (`RATE_LIMIT_EVENTS_PER_MINUTE`). */
  eventsLimiter: RateLimiter;
  /** Per-client limit on approvals and aborts (`RATE_LIMIT_ACTIONS_PER_MINUTE`). */
  actionsLimiter: RateLimiter;
  /** Per-client limit on failed sign-ins (a fixed 10 a minute). */
  loginLimiter: RateLimiter;
  /** Open streams per client (`MAX_STREAMS_PER_CLIENT`). */
  clientStreams: ClientStreams;
  /** When the process started (ms), for `/health`. */
  startedAt: number;
  /** Graceful shutdown: close client streams with a final comment, release leases, close KV. */
  close(): Promise<void>;
}

/** Options beyond the configuration (tests). */
export interface ServiceOptions {
  /** Replaces the JSON-lines logger on stderr at `LOG_LEVEL` (tests capture lines). */
  logger?: Logger;
  /** A relay lease length other than the default 30 s (tests of relay_lost use a short one). */
  leaseMs?: number;
  /** Replaces the run store (e.g. a second process view on the same KV file). */
  store?: RunStore;
}

/**
 * Builds the services. In built-in mode the LangGraph workflow service is imported dynamically
 * and called in-process (no socket); with `WORKFLOW_SERVICE_URL` set it is never loaded.
 */
export async function createServices(config: Config, opts: ServiceOptions = {}): Promise<Services> {
  const logger = opts.logger ?? createLogger(config.LOG_LEVEL);
  const metrics = new Metrics();
  const store = opts.store ?? await openKvRunStore({
    path: config.KV_PATH ?? (Deno.env.get("DENO_DEPLOYMENT_ID") ? undefined : DEFAULT_KV_PATH),
    ttlHours: config.RUN_TTL_HOURS,
  });
  if (store instanceof KvRunStore) {
    // Appends vs the KV commits that carried them: what group commit saves (docs/performance.md).
    const stats = () => store.commitStats;
    metrics.addGauge(
      new Gauge(
        "workflow_log_appends",
        "Run-log appends committed since start.",
        () => stats().contributions,
      ),
    );
    metrics.addGauge(
      new Gauge(
        "workflow_log_commits",
        "KV commits that carried them (shared by runs).",
        () => stats().commits,
      ),
    );
  }

  let closeBuiltIn: () => Promise<void> = () => Promise.resolve();
  let upstream: Upstream;
  if (config.WORKFLOW_SERVICE_URL) {
    // Loaded only for an external service, like the built-in one below only without it.
    const { createProtocolUpstream } = await import("./gateway/upstreams/mod.ts");
    upstream = createProtocolUpstream({
      protocol: config.WORKFLOW_SERVICE_PROTOCOL,
      defaultGraph: config.DEFAULT_GRAPH,
      url: config.WORKFLOW_SERVICE_URL,
      token: config.WORKFLOW_SERVICE_TOKEN,
      timeoutMs: config.UPSTREAM_TIMEOUT_MS,
      transport: config.UPSTREAM_TRANSPORT === "auto" ? undefined : config.UPSTREAM_TRANSPORT,
    });
  } else {
    const { createWorkflowService } = await import("./workflow_service/mod.ts");
    // The run log's database, through a handle of the built-in service's own: its threads and
    // checkpoints survive restarts next to the runs they feed.
    const kvPath = config.KV_PATH ??
      (Deno.env.get("DENO_DEPLOYMENT_ID") ? undefined : DEFAULT_KV_PATH);
    const kv = kvPath === undefined ? await Deno.openKv() : await Deno.openKv(kvPath);
    const service = createWorkflowService({
      stepDelayMs: config.WORKFLOW_STEP_DELAY_MS,
      logger: logger.child({ component: "workflow_service" }),
      kv,
      memoryCheckpoints: kvPath === ":memory:",
      retention: config.WORKFLOW_EVENT_RETENTION,
      leaseMs: config.WORKFLOW_LEASE_MS,
      orphanScanMs: kvPath === ":memory:" ? 0 : config.WORKFLOW_LEASE_MS,
    });
    closeBuiltIn = async () => {
      await service.close();
      kv.close();
    };
    upstream = createUpstream({
      inProcess: (req) => service.handler(req),
      timeoutMs: config.UPSTREAM_TIMEOUT_MS,
    });
  }

  const gateway = new Gateway({
    store,
    upstream,
    metrics,
    logger: logger.child({ component: "gateway" }),
    leaseMs: opts.leaseMs ?? config.RELAY_LEASE_MS,
    sweepMs: config.RELAY_SWEEP_MS,
    onRelayLost: config.ON_RELAY_LOST,
    maxStartingRuns: config.MAX_STARTING_RUNS,
  });
  metrics.addGauge(
    new Gauge(
      "workflow_starts_waiting",
      "Run starts waiting for a place (MAX_STARTING_RUNS are in progress at once).",
      () => gateway.startsWaiting,
    ),
  );
  // Runs of a process that died are taken over at once and then by a periodic sweep.
  gateway.startTakeover();
  const streams = new StreamRegistry(metrics, config.MAX_STREAMS);

  let closed = false;
  return {
    config,
    logger,
    metrics,
    store,
    upstream,
    gateway,
    streams,
    rateLimiter: new RateLimiter(config.RATE_LIMIT_PER_MINUTE, { burst: config.RATE_LIMIT_BURST }),
    eventsLimiter: new RateLimiter(config.RATE_LIMIT_EVENTS_PER_MINUTE),
    actionsLimiter: new RateLimiter(config.RATE_LIMIT_ACTIONS_PER_MINUTE),
    loginLimiter: new RateLimiter(10),
    clientStreams: new ClientStreams(config.MAX_STREAMS_PER_CLIENT),
    startedAt: Date.now(),
    async close() {
      if (closed) return;
      closed = true;
      // The relays stop and commit their last reads before the streams get their final comment
      // (a stream closed first would miss them until its client reconnects).
      await gateway.shutdown({ keepLease: true });
      await gateway.drain();
      streams.closeAll("shutdown");
      try {
        await closeBuiltIn();
      } finally {
        // The handover last: the built-in service has stopped and released its threads, so the
        // gateway that takes the runs over resumes them at once.
        await gateway.releaseLease();
      }
      if (!opts.store) await store.close();
    },
  };
}
