/**
 * The guard in front of every `/agui*` request: CORS with an allowlist (preflight answered
 * here), the optional `GATEWAY_TOKEN` bearer check (constant-time), a per-client rate limit on
 * starting runs, and any failure turned into the JSON error body with its status.
 * @module
 */
import { ApiError, errorResponse, toErrorResponse } from "../http/errors.ts";
import type { Services } from "../services.ts";

const te = new TextEncoder();

/**
 * Compares two secrets in time that depends only on their lengths, never on where they differ:
 * every byte position up to the longer length is visited, and a length mismatch is folded into
 * the result instead of returning early.
 */
export function timingSafeEqual(a: string, b: string): boolean {
  const x = te.encode(a);
  const y = te.encode(b);
  let diff = x.length ^ y.length;
  const n = Math.max(x.length, y.length);
  for (let i = 0; i < n; i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/**
 * The framework answers a route's unsupported method with a plain-text 405; API clients get
 * the JSON error body every other failure has, with the `allow` header kept. Other answers
 * pass through unchanged.
 */
export function jsonMethodNotAllowed(req: Request, res: Response): Response {
  if (res.status !== 405 || !(res.headers.get("content-type") ?? "").startsWith("text/plain")) {
    return res;
  }
  const allow = res.headers.get("allow");
  return errorResponse(
    405,
    "method_not_allowed",
    `${req.method} is not allowed on ${new URL(req.url).pathname}`,
    undefined,
    allow ? { allow } : undefined,
  );
}

/** What the guard needs from the request's state. */
export interface GuardState {
  services: Services;
  /** The client's address (rate limit key). */
  clientIp?: string;
  /** The request id (echoed in errors' logs). */
  requestId?: string;
}

const ALLOW_METHODS = "GET, POST, OPTIONS";
const ALLOW_HEADERS = "authorization, content-type, last-event-id, x-request-id";
const EXPOSE_HEADERS = "x-workflow-id, x-request-id, retry-after";

function corsHeaders(origin: string): Record<string, string> {
  return {
    "access-control-allow-origin": origin,
    "access-control-expose-headers": EXPOSE_HEADERS,
    vary: "origin",
  };
}

/** Runs `next` behind CORS, auth and rate limiting; errors become JSON. */
export async function guardApi(
  req: Request,
  state: GuardState,
  next: () => Promise<Response>,
): Promise<Response> {
  const { config, logger, metrics } = state.services;
  const url = new URL(req.url);
  const origin = req.headers.get("origin");
  let cors: Record<string, string> | undefined;
  if (origin !== null && origin !== url.origin) {
    const allowed = config.ALLOWED_ORIGINS.includes("*") || config.ALLOWED_ORIGINS.includes(origin);
    if (!allowed) {
      metrics.rejected.inc({ status: "403" });
      return errorResponse(403, "origin_not_allowed", `Origin ${origin} is not allowed`);
    }
    cors = corsHeaders(config.ALLOWED_ORIGINS.includes("*") ? "*" : origin);
  }
  if (req.method === "OPTIONS") {
    if (!cors) return new Response(null, { status: 204, headers: { allow: ALLOW_METHODS } });
    return new Response(null, {
      status: 204,
      headers: {
        ...cors,
        "access-control-allow-methods": ALLOW_METHODS,
        "access-control-allow-headers": ALLOW_HEADERS,
        "access-control-max-age": "600",
      },
    });
  }
  let res: Response;
  try {
    if (config.GATEWAY_TOKEN) {
      const auth = req.headers.get("authorization") ?? "";
      const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
      if (!m || !timingSafeEqual(m[1], config.GATEWAY_TOKEN)) {
        throw new ApiError(401, "unauthorized", "A valid bearer token is required", undefined, {
          "www-authenticate": 'Bearer realm="agui"',
        });
      }
    }
    if (req.method === "POST" && url.pathname === "/agui") {
      const wait = state.services.rateLimiter.take(state.clientIp ?? "unknown");
      if (wait > 0) {
        throw new ApiError(429, "rate_limited", "Too many runs started; slow down", undefined, {
          "retry-after": String(wait),
        });
      }
    }
    res = jsonMethodNotAllowed(req, await next());
  } catch (err) {
    res = toErrorResponse(err);
    if (res.status >= 500 && !(err instanceof ApiError)) {
      logger.error("request failed", {
        request_id: state.requestId,
        path: url.pathname,
        error: err,
      });
    }
    metrics.rejected.inc({ status: String(res.status) });
  }
  if (cors) { for (const [k, v] of Object.entries(cors)) res.headers.set(k, v); }
  return res;
}
