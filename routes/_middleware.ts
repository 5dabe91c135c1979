import { define } from "../lib/define.ts";
import { securityHeaders } from "../lib/http/security.ts";

const REQUEST_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Every request: a request id (the caller's `x-request-id` when it is sane, else a new one) in
 * the state, the logs and the response; the client's address for rate limiting; a CSP nonce for
 * pages; and the usual security headers on every answer.
 */
export const handler = define.middleware(async (ctx) => {
  const given = ctx.req.headers.get("x-request-id");
  const requestId = given && REQUEST_ID_RE.test(given) ? given : crypto.randomUUID();
  ctx.state.requestId = requestId;
  const addr = ctx.info?.remoteAddr;
  ctx.state.clientIp = addr && "hostname" in addr ? addr.hostname : undefined;
  ctx.state.nonce = crypto.randomUUID().replaceAll("-", "");
  let res = await ctx.next();
  try {
    res.headers.set("x-request-id", requestId);
  } catch {
    // Immutable headers (a Response.redirect): copy into a mutable response.
    res = new Response(res.body, res);
    res.headers.set("x-request-id", requestId);
  }
  for (const [k, v] of Object.entries(securityHeaders(ctx.state.nonce, res))) {
    if (!res.headers.has(k)) res.headers.set(k, v);
  }
  return res;
});
