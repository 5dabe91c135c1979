import type { Context } from "fresh";
import { define, type State } from "../lib/define.ts";
import { jsonMethodNotAllowed } from "../lib/gateway/guard.ts";
import { DEFAULT_MAX_HEADER_BYTES } from "../lib/config.ts";
import { checkHeaderBudget } from "../lib/http/headers.ts";
import { setSecurityHeaders } from "../lib/http/security.ts";
import { checkAccess } from "../lib/http/access.ts";
import { withLogContext } from "../lib/log.ts";

const REQUEST_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;
type Ctx = Context<State>;

/** Paths polled by monitors: logged at debug so they do not drown the request log. */
const QUIET = /^\/(health|metrics)$|^\/_fresh\/|\.(css|js|svg|png|ico|woff2?)$/;

/** Page requests from a browser keep the framework's answer; everything else gets JSON. */
function apiAnswer(req: Request, res: Response, path: string): Response {
  if ((req.headers.get("accept") ?? "").includes("text/html") && !path.startsWith("/agui")) {
    return res;
  }
  return jsonMethodNotAllowed(req, res);
}

/**
 * Every request: a request id (the caller's `x-request-id` when it is sane, else a new one) in
 * the state, in every log line written while serving it (lib/log.ts `withLogContext`) and in
 * the response; one access-log line; the client's address for rate limiting; a CSP nonce for
 * pages; the usual security headers on every answer, errors included; and, before any handler
 * runs, a 431 JSON answer to headers larger than `MAX_HEADER_BYTES`, a 421 to a Host outside
 * `ALLOWED_HOSTS`, and the sign-in gate of pages and `/metrics` (lib/http/access.ts).
 */
export const handler = define.middleware((ctx) => {
  const given = ctx.req.headers.get("x-request-id");
  const requestId = given && REQUEST_ID_RE.test(given) ? given : crypto.randomUUID();
  ctx.state.requestId = requestId;
  const addr = ctx.info?.remoteAddr;
  ctx.state.clientIp = addr && "hostname" in addr ? addr.hostname : undefined;
  ctx.state.nonce = crypto.randomUUID().replaceAll("-", "");
  return withLogContext({ request_id: requestId }, () => serve(ctx));
});

// Promise chains, not an async function: this layer stays suspended for as long as the request
// runs (a run's start waits on the workflow service), and a suspended async frame with its
// locals costs more than the one `then` callback that holds `ctx` and the start time.
function serve(ctx: Ctx): Promise<Response> {
  const started = performance.now();
  const config = ctx.state.services?.config;
  const early = checkHeaderBudget(ctx.req, config?.MAX_HEADER_BYTES ?? DEFAULT_MAX_HEADER_BYTES);
  if (early) return Promise.resolve(finish(ctx, early, started));
  const after = (res: Response) => finish(ctx, apiAnswer(ctx.req, res, ctx.url.pathname), started);
  if (!config) return ctx.next().then(after);
  return checkAccess(ctx.req, config).then((access) => {
    ctx.state.signedIn = access.signedIn;
    return access.answer ? finish(ctx, access.answer, started) : ctx.next().then(after);
  });
}

/** The request id and security headers on the answer, and the access-log line. */
function finish(ctx: Ctx, answer: Response, started: number): Response {
  const requestId = ctx.state.requestId!;
  let res = answer;
  try {
    res.headers.set("x-request-id", requestId);
  } catch {
    // Immutable headers (a Response.redirect): copy into a mutable response.
    res = new Response(res.body, res);
    res.headers.set("x-request-id", requestId);
  }
  setSecurityHeaders(res, ctx.state.nonce);
  const log = ctx.state.services?.logger;
  if (log) {
    const path = ctx.url.pathname;
    const fields = {
      method: ctx.req.method,
      path,
      status: res.status,
      ms: Math.round((performance.now() - started) * 10) / 10,
    };
    if (QUIET.test(path) && res.status < 400) log.debug("request", fields);
    else log.info("request", fields);
  }
  return res;
}
