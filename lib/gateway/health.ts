/**
 * `GET /health` and `GET /metrics`.
 * @module
 */
import { redactUrl, VERSION } from "../config.ts";
import { jsonResponse } from "../http/errors.ts";
import type { Services } from "../services.ts";

/** The `/health` body (DESIGN §4). */
export interface HealthBody {
  status: "ok" | "degraded";
  version: string;
  workflow_service: {
    url: string;
    mode: "built-in" | "external";
    reachable: boolean;
    latency_ms: number;
    error?: string;
  };
  active_streams: number;
  active_relays: number;
  uptime_s: number;
}

/** 200 when the workflow service answers its `/health`, 503 (still JSON) when it does not. */
export async function handleHealth(services: Services): Promise<Response> {
  const { config } = services;
  const up = await services.upstream.health();
  const body: HealthBody = {
    status: up.reachable ? "ok" : "degraded",
    version: VERSION,
    workflow_service: {
      url: config.WORKFLOW_SERVICE_URL ? redactUrl(config.WORKFLOW_SERVICE_URL) : "built-in",
      mode: config.mode,
      reachable: up.reachable,
      latency_ms: Math.round(up.latency_ms * 100) / 100,
      ...(up.error ? { error: up.error } : {}),
    },
    active_streams: services.streams.size,
    active_relays: services.gateway.activeRelays,
    uptime_s: Math.round((Date.now() - services.startedAt) / 1000),
  };
  return jsonResponse(body, up.reachable ? 200 : 503);
}

/** Prometheus text: streams, runs by graph and status, events, errors, heartbeats, latency. */
export function handleMetrics(services: Services): Response {
  return new Response(services.metrics.render(), {
    headers: {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
      "cache-control": "no-store",
    },
  });
}
