/**
 * Security headers for every answer: a strict Content-Security-Policy on HTML pages (scripts
 * only from this origin and with the request's nonce), and the usual hardening headers.
 * @module
 */

/** The headers to add to `res` (existing ones win). */
export function securityHeaders(nonce: string | undefined, res: Response): Record<string, string> {
  const h: Record<string, string> = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
  };
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
