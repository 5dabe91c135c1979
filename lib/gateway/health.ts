/**
 * `GET /health` and `GET /metrics`.
 * @module
 */
import { collectRuns, emptyStatusCounts } from "../analytics.ts";
import { redactUrl, VERSION } from "../config.ts";
import { RUN_STATUSES } from "../event_names.ts";
import { jsonResponse } from "../http/errors.ts";
import { renderLabeledGauge } from "../metrics.ts";
import type { Services } from "../services.ts";

/** The `/health` body for a caller without credentials (when a token is configured). */
export interface PublicHealthBody {
  /** `ok` when the workflow service answers its `/health`, else `degraded` (HTTP 503). */
  status: "ok" | "degraded";
}

/** The `/health` body. */
export interface HealthBody {
  /** `ok` when the workflow service answers its `/health`, else `degraded` (HTTP 503). */
  status: "ok" | "degraded";
  /** The app's version. */
  version: string;
  /**
   * The workflow service: its redacted URL (or `built-in`), mode, whether it answered, the
   * latency of its `/health` in ms, and the kind of failure, if any.
   */
  workflow_service: {
    url: string;
    mode: "built-in" | "external";
    reachable: boolean;
    latency_ms: number;
    error?: string;
  };
  /** Client event streams open in this process. */
  active_streams: number;
  /** Upstream streams this process relays. */
  active_relays: number;
  /** Seconds since the process started. */
  uptime_s: number;
}

/**
 * 200 when the workflow service answers its `/health`, 503 (still JSON) when it does not.
 * `detailed` false (a caller without credentials while a token is set) gets the status alone:
 * the service's address, load and uptime are for operators. The service's own error text (socket
 * errors, paths) is never shown, only what kind of failure it was; it is logged here instead.
 */
export async function handleHealth(services: Services, detailed = true): Promise<Response> {
  const { config } = services;
  const up = await services.upstream.health();
  if (up.error) {
    services.logger.warn("health: workflow service not reachable", {
      error: up.error,
      status: up.status,
    });
  }
  if (!detailed) {
    const status = up.reachable ? "ok" : "degraded";
    return jsonResponse({ status } satisfies PublicHealthBody, up.reachable ? 200 : 503);
  }
  const body: HealthBody = {
    status: up.reachable ? "ok" : "degraded",
    version: VERSION,
    workflow_service: {
      url: config.WORKFLOW_SERVICE_URL ? redactUrl(config.WORKFLOW_SERVICE_URL) : "built-in",
      mode: config.mode,
      reachable: up.reachable,
      latency_ms: Math.round(up.latency_ms * 100) / 100,
      ...(up.error
        ? { error: up.status !== undefined ? `answered ${up.status}` : "not reachable" }
        : {}),
    },
    active_streams: services.streams.size,
    active_relays: services.gateway.activeRelays,
    uptime_s: Math.round((Date.now() - services.startedAt) / 1000),
  };
  return jsonResponse(body, up.reachable ? 200 : 503);
}

/** How many of the newest runs the runs-by-status gauge counts (bounded work per scrape). */
export const STATUS_GAUGE_MAX_RUNS = 1_000;
/** How long a status count is reused when nothing changed in this process. */
const STATUS_CACHE_MS = 10_000;

interface StatusCache {
  at: number;
  /** This process's relay counters when the count was made: a change invalidates it. */
  generation: number;
  text: Promise<string>;
}

const statusCaches = new WeakMap<Services, StatusCache>();

function generation(services: Services): number {
  const m = services.metrics;
  return m.runsStarted.total() + m.runsFinished.total() + m.eventsRelayed.total();
}

/**
 * `workflow_runs{status}`: runs in the log by status, counted over the newest
 * {@link STATUS_GAUGE_MAX_RUNS}. Scrapes reuse the last count for a few seconds unless this
 * process relayed something since (another process's changes show up within that time).
 */
function runsByStatus(services: Services, now: number): Promise<string> {
  const gen = generation(services);
  const hit = statusCaches.get(services);
  if (hit && hit.generation === gen && now - hit.at < STATUS_CACHE_MS) return hit.text;
  const text = collectRuns(services.store, { from: null, maxRuns: STATUS_GAUGE_MAX_RUNS }).then(
    ({ runs }) => {
      const counts = emptyStatusCounts();
      for (const r of runs) counts[r.status]++;
      return renderLabeledGauge(
        "workflow_runs",
        `Runs in the run log by status (the newest ${STATUS_GAUGE_MAX_RUNS}).`,
        RUN_STATUSES.map((s) => [{ status: s }, counts[s]]),
      );
    },
  );
  // A failed count is not cached: the next scrape tries again.
  text.catch(() => statusCaches.delete(services));
  statusCaches.set(services, { at: now, generation: gen, text });
  return text;
}

/**
 * Prometheus text: open streams, runs by status (gauge) and started/finished by graph and
 * status, events relayed, malformed frames, upstream errors, heartbeats, relay latency.
 */
export async function handleMetrics(services: Services, now = Date.now()): Promise<Response> {
  let extra: string[] = [];
  try {
    extra = [await runsByStatus(services, now)];
  } catch (err) {
    // The process counters are still worth serving when the store cannot be read.
    services.logger.warn("metrics: could not count runs by status", { error: err });
  }
  return new Response(services.metrics.render(extra), {
    headers: {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
      "cache-control": "no-store",
    },
  });
}
