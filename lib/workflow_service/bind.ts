/**
 * Where `deno task workflow` may listen. Its `POST /execute` with a `resume` decides approvals, so
 * an unauthenticated service reachable from other machines lets anyone approve a run behind the
 * gateway's back. It binds to loopback by default, and beyond loopback only with a token.
 * @module
 */

const LOOPBACK = /^(127(\.\d{1,3}){3}|localhost|::1|\[::1\])$/i;

/** True when `hostname` is reachable only from this machine. */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK.test(hostname.trim());
}

/**
 * Why the service must not start on `hostname` with `token`, or null when it may: a non-loopback
 * address needs `WORKFLOW_SERVICE_TOKEN`.
 */
export function bindProblem(hostname: string, token: string | undefined): string | null {
  if (isLoopbackHost(hostname) || token) return null;
  return `WORKFLOW_HOST=${hostname} is reachable from other machines: set WORKFLOW_SERVICE_TOKEN ` +
    "(the gateway sends it as its bearer token), or keep the default WORKFLOW_HOST=127.0.0.1";
}
