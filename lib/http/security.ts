/**
 * Security headers for every answer: a strict Content-Security-Policy on HTML pages (scripts
 * only from this origin and with the request's nonce), and the usual hardening headers.
 * @module
 */

/** The hardening headers of every answer (no CSP: that one is for pages only). */
const HARDENING: readonly (readonly [string, string])[] = [
  ["x-content-type-options", "nosniff"],
  ["referrer-policy", "strict-origin-when-cross-origin"],
  ["x-frame-options", "DENY"],
  ["cross-origin-opener-policy", "same-origin"],
  ["permissions-policy", "camera=(), microphone=(), geolocation=()"],
];

/**
 * Sets {@link securityHeaders} on `res` where it has none of that name (existing ones win),
 * without building the record: every request pays this, a run's start included.
 */
export function setSecurityHeaders(res: Response, nonce: string | undefined): void {
  const headers = res.headers;
  for (const [k, v] of HARDENING) if (!headers.has(k)) headers.set(k, v);
  if (!headers.has("content-security-policy")) {
    const csp = securityHeaders(nonce, res)["content-security-policy"];
    if (csp !== undefined) headers.set("content-security-policy", csp);
  }
}

/** The headers to add to `res` (existing ones win). */
export function securityHeaders(nonce: string | undefined, res: Response): Record<string, string> {
  const h: Record<string, string> = Object.fromEntries(HARDENING);
  const type = res.headers.get("content-type") ?? "";
  if (type.startsWith("text/html")) {
    h["content-security-policy"] = [
      "default-src 'self'",
      `script-src 'self'${nonce ? ` 'nonce-${nonce}'` : ""}`,
      "style-src 'self'",
      "img-src 'self' data:",
      "connect-src 'self'",
      "object-src 'none'",
      "base-uri 'none'",
      "frame-ancestors 'none'",
      "form-action 'self'",
    ].join("; ");
  }
  return h;
}
