/**
 * The guard in front of every `/agui*` request: CORS with an allowlist (preflight answered
 * here), the optional `GATEWAY_TOKEN` check (the bearer, constant-time, or the dashboard's
 * session cookie, whose writes must come from this origin), per-client rate limits on starting
 * runs, opening event streams, approvals and aborts, the per-client stream cap, and any failure
 * turned into the JSON error body with its status.
 * @module
 */
import { ApiError, errorResponse, toErrorResponse } from "../http/errors.ts";
import { credentialOf, isSameOriginWrite } from "../http/access.ts";
import type { RateLimiter } from "../http/rate_limit.ts";
import type { Services } from "../services.ts";

export { timingSafeEqual } from "../http/access.ts";

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
  /** The process's services (rate limiters, the client stream cap, the logger). */
  services: Services;
  /** The client's address (rate limit key). */
  clientIp?: string;
  /** The request id (echoed in errors' logs). */
  requestId?: string;
}

/** Connection facts the guard uses beyond the request (from `Deno.ServeHandlerInfo`). */
export interface GuardInfo {
  /** Settles when the response was sent or the client went away (per-client stream cap). */
  completed?: Promise<void>;
}

/** Requests that may open a stream: `POST /agui` and `GET /agui/runs/:id/events`. */
const STREAM_PATH = /^\/agui\/runs\/[^/]+\/events$/;
/** Approvals and aborts. */
const ACTION_PATH = /^\/agui\/runs\/[^/]+\/(approval|abort)$/;

function limited(limiter: RateLimiter, key: string, what: string): void {
  const wait = limiter.take(key);
  if (wait > 0) {
    throw new ApiError(429, "rate_limited", `Too many ${what}; slow down`, undefined, {
      "retry-after": String(wait),
    });
  }
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
  info: GuardInfo = {},
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
      const credential = await credentialOf(req, config);
      if (credential === null) {
        throw new ApiError(401, "unauthorized", "A valid bearer token is required", undefined, {
          "www-authenticate": 'Bearer realm="agui"',
        });
      }
      // The cookie rides along with any request the browser makes to this site: a write it
      // authenticates must come from this origin's own pages (CSRF).
      if (credential === "session" && req.method !== "GET" && !isSameOriginWrite(req)) {
        throw new ApiError(403, "cross_site_request", "This request must come from this site");
      }
    }
    const client = state.clientIp ?? "unknown";
    const { services } = state;
    const opensStream = (req.method === "POST" && url.pathname === "/agui") ||
      (req.method === "GET" && STREAM_PATH.test(url.pathname));
    if (req.method === "POST" && url.pathname === "/agui") {
      limited(services.rateLimiter, client, "runs started");
    } else if (req.method === "GET" && STREAM_PATH.test(url.pathname)) {
      limited(services.eventsLimiter, client, "event streams opened");
    } else if (req.method === "POST" && ACTION_PATH.test(url.pathname)) {
      limited(services.actionsLimiter, client, "approvals and aborts");
    }
    // With the cap off, `completed` is not touched: asking for it makes the server keep a
    // promise and its reactions for as long as each stream is open.
    if (opensStream && services.clientStreams.capped && info.completed) {
      const release = services.clientStreams.take(client);
      if (!release) {
        throw new ApiError(
          429,
          "too_many_client_streams",
          `This client already holds ${config.MAX_STREAMS_PER_CLIENT} open streams`,
          undefined,
          { "retry-after": "5" },
        );
      }
      info.completed.then(release, release);
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
