/**
 * Signing in to the dashboard with `GATEWAY_TOKEN`: the form's POST is read like any body
 * (size and time bounded), must come from this origin (no sign-in CSRF), is rate limited per
 * client on failures, and on success sets the session cookie and redirects to `next`.
 * @module
 */
import type { Config } from "../config.ts";
import { isSameOriginWrite, safeNext, timingSafeEqual } from "./access.ts";
import { readBodyBytes } from "./body.ts";
import { ApiError } from "./errors.ts";
import type { RateLimiter } from "./rate_limit.ts";
import { clearSessionCookie, sessionCookie } from "./session.ts";

/** Largest sign-in form body. */
const MAX_FORM_BYTES = 4_096;

/** The outcome of a sign-in POST: a redirect, or the form again with an error and status. */
export type LoginResult =
  | { ok: true; response: Response }
  | { ok: false; status: number; error: string; next: string };

function redirect(location: string, cookie: string): Response {
  return new Response(null, {
    status: 303,
    headers: { location, "set-cookie": cookie, "cache-control": "no-store" },
  });
}

/** Handles `POST /login` (form fields `token`, `next`). */
export async function login(
  req: Request,
  config: Config,
  limiter: RateLimiter,
  client: string,
): Promise<LoginResult> {
  const token = config.GATEWAY_TOKEN;
  if (!token) return { ok: true, response: redirect("/", clearSessionCookie(req)) };
  if (!isSameOriginWrite(req)) {
    throw new ApiError(403, "cross_site_request", "Sign in from this site's own form");
  }
  const type = (req.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") {
    throw new ApiError(415, "unsupported_media_type", "Send the sign-in form");
  }
  const body = await readBodyBytes(req, {
    MAX_BODY_BYTES: MAX_FORM_BYTES,
    BODY_TIMEOUT_MS: config.BODY_TIMEOUT_MS,
  });
  const form = new URLSearchParams(new TextDecoder().decode(body));
  const next = safeNext(form.get("next"));
  if (timingSafeEqual(form.get("token") ?? "", token)) {
    const cookie = await sessionCookie(req, token, config.SESSION_TTL_HOURS * 3_600_000);
    return { ok: true, response: redirect(next, cookie) };
  }
  // Only failures count: a person who signs in often is never locked out.
  const wait = limiter.take(client);
  if (wait > 0) {
    return { ok: false, status: 429, error: `Too many attempts; wait ${wait} s.`, next };
  }
  return { ok: false, status: 401, error: "That is not the gateway token.", next };
}

/** Handles `POST /logout`: clears the cookie (from this origin only) and goes to `/login`. */
export function logout(req: Request): Response {
  if (!isSameOriginWrite(req)) {
    throw new ApiError(403, "cross_site_request", "Sign out from this site's own pages");
  }
  return redirect("/login", clearSessionCookie(req));
}
