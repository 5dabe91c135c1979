/**
 * Who may reach what (README "Security"): the Host allowlist against DNS rebinding, the
 * credentials a request carries (the `GATEWAY_TOKEN` bearer or a dashboard session cookie), the
 * cross-site check for cookie-authenticated writes, and the gate in front of pages and
 * `/metrics`. Everything here answers questions; the middlewares turn the answers into responses.
 * @module
 */
import type { Config } from "../config.ts";
import { errorResponse } from "./errors.ts";
import { hasSession } from "./session.ts";

const te = new TextEncoder();

/** Host names served when `ALLOWED_HOSTS` is unset and no `GATEWAY_TOKEN` guards the app. */
export const LOOPBACK_HOSTS: readonly string[] = ["localhost", ".localhost", "127.0.0.1", "[::1]"];

/**
 * The Host names this app answers: `ALLOWED_HOSTS`; unset, any name when `GATEWAY_TOKEN` is set
 * (a rebound page holds neither the token nor the session cookie) and loopback names otherwise.
 */
export function allowedHosts(config: Pick<Config, "ALLOWED_HOSTS" | "GATEWAY_TOKEN">): string[] {
  return config.ALLOWED_HOSTS ?? (config.GATEWAY_TOKEN ? ["*"] : [...LOOPBACK_HOSTS]);
}

/** True when `hostname` (lower case, IPv6 in brackets) matches one of `patterns`. */
export function hostMatches(hostname: string, patterns: readonly string[]): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  return patterns.some((p) =>
    p === "*" || p === host || (p.startsWith(".") && (host.endsWith(p) || host === p.slice(1)))
  );
}

/** True when the request's Host is one this app answers. */
export function hostAllowed(
  req: Request,
  config: Pick<Config, "ALLOWED_HOSTS" | "GATEWAY_TOKEN">,
): boolean {
  return hostMatches(new URL(req.url).hostname, allowedHosts(config));
}

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

/** The bearer token of `req`'s `Authorization` header, or null. */
export function bearerToken(req: Request): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.get("authorization") ?? "");
  return m ? m[1] : null;
}

/** How a request proved it may act: the bearer token, the session cookie, or nothing. */
export type Credential = "bearer" | "session" | null;

/** The credential `req` carries for `GATEWAY_TOKEN` (null when it carries none that is valid). */
export async function credentialOf(
  req: Request,
  config: Pick<Config, "GATEWAY_TOKEN">,
): Promise<Credential> {
  const token = config.GATEWAY_TOKEN;
  if (!token) return null;
  const bearer = bearerToken(req);
  if (bearer !== null && timingSafeEqual(bearer, token)) return "bearer";
  return await hasSession(req, token) ? "session" : null;
}

/**
 * True when a state-changing request comes from this app's own pages: its `Origin` is the
 * request's own origin (whose Host the allowlist already accepted). A browser sends `Origin` with
 * every POST; a cookie-authenticated POST without one is refused.
 */
export function isSameOriginWrite(req: Request): boolean {
  const origin = req.headers.get("origin");
  return origin !== null && origin === new URL(req.url).origin;
}

/** May `req` read `/metrics`? Open only when neither `GATEWAY_TOKEN` nor `METRICS_TOKEN` is set. */
export async function metricsAllowed(
  req: Request,
  config: Pick<Config, "GATEWAY_TOKEN" | "METRICS_TOKEN">,
): Promise<boolean> {
  if (!config.GATEWAY_TOKEN && !config.METRICS_TOKEN) return true;
  const bearer = bearerToken(req);
  if (bearer !== null && config.METRICS_TOKEN && timingSafeEqual(bearer, config.METRICS_TOKEN)) {
    return true;
  }
  return await credentialOf(req, config) !== null;
}

/** Paths anyone may reach: sign-in, status-only health, static files; `/agui*` guards itself. */
const OPEN_PATHS =
  /^\/(login|logout|health|favicon\.ico)$|^\/agui(\/|$)|^\/_fresh\/|\.(css|js|map|svg|png|ico|woff2?)$/;

/** What the gate decides for one request. */
export type GateDecision = "open" | "signed_in" | "sign_in" | "unauthorized";

/**
 * The gate in front of the dashboard (`/`, `/runs`, `/runs/:id`) and `/metrics` when
 * `GATEWAY_TOKEN` is set: `open` (no token, or a path anyone may reach), `signed_in`, `sign_in`
 * (a browser asking for a page: send it to `/login`) or `unauthorized` (401 JSON).
 */
export async function gate(req: Request, config: Config): Promise<GateDecision> {
  const path = new URL(req.url).pathname;
  if (path === "/metrics") return await metricsAllowed(req, config) ? "open" : "unauthorized";
  if (!config.GATEWAY_TOKEN || OPEN_PATHS.test(path)) return "open";
  if (await credentialOf(req, config) !== null) return "signed_in";
  const wantsPage = (req.method === "GET" || req.method === "HEAD") &&
    (req.headers.get("accept") ?? "").includes("text/html");
  return wantsPage ? "sign_in" : "unauthorized";
}

/** A `next` path for after sign-in: only a local absolute path, else `/`. */
export function safeNext(next: string | null): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.includes("\\")) return "/";
  return /^[\x21-\x7e]{1,2000}$/.test(next) ? next : "/";
}

/** What {@link checkAccess} found. */
export interface AccessResult {
  /** The answer that stops the request, or null to go on. */
  answer: Response | null;
  /** True when a gated page was reached with valid credentials (pages offer "Sign out"). */
  signedIn: boolean;
}

/**
 * Decides before any route runs: 421 JSON for a Host outside the allowlist, a redirect to
 * `/login` for a page asked for without a session, 401 JSON for anything else without
 * credentials; otherwise no answer.
 */
export async function checkAccess(req: Request, config: Config): Promise<AccessResult> {
  if (!hostAllowed(req, config)) {
    const answer = errorResponse(
      421,
      "host_not_allowed",
      "This server does not answer for that Host; see ALLOWED_HOSTS",
    );
    return { answer, signedIn: false };
  }
  const decision = await gate(req, config);
  if (decision === "open" || decision === "signed_in") {
    return { answer: null, signedIn: decision === "signed_in" };
  }
  if (decision === "sign_in") {
    const url = new URL(req.url);
    const next = encodeURIComponent(url.pathname + url.search);
    const answer = new Response(null, {
      status: 303,
      headers: { location: `/login?next=${next}`, "cache-control": "no-store" },
    });
    return { answer, signedIn: false };
  }
  const answer = errorResponse(401, "unauthorized", "A valid bearer token is required", undefined, {
    "www-authenticate": 'Bearer realm="workflow-stream"',
  });
  return { answer, signedIn: false };
}
