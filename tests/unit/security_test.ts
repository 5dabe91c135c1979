import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { jsonMethodNotAllowed, timingSafeEqual } from "../../lib/gateway/guard.ts";
import { securityHeaders } from "../../lib/http/security.ts";

describe("timingSafeEqual", () => {
  it("is true only for equal strings", () => {
    assert.equal(timingSafeEqual("gateway-token-0123456789", "gateway-token-0123456789"), true);
    assert.equal(timingSafeEqual("gateway-token-0123456789", "gateway-token-0123456788"), false);
    assert.equal(timingSafeEqual("Gateway-token-0123456789", "gateway-token-0123456789"), false);
    assert.equal(timingSafeEqual("", ""), true);
  });
  it("is false for prefixes, extensions and empty strings", () => {
    assert.equal(timingSafeEqual("abc", "abcd"), false);
    assert.equal(timingSafeEqual("abcd", "abc"), false);
    assert.equal(timingSafeEqual("", "a"), false);
    assert.equal(timingSafeEqual("a", ""), false);
    // A repeated secret must not pass (a modulo-indexed loop once compared only a prefix).
    assert.equal(timingSafeEqual("abab", "ab"), false);
    assert.equal(timingSafeEqual("\0\0", ""), false);
  });
  it("compares bytes, not UTF-16 units", () => {
    assert.equal(timingSafeEqual("é", "é"), true);
    assert.equal(timingSafeEqual("é", "e\u0301"), false);
  });
});

describe("securityHeaders", () => {
  const html = new Response("<p>", { headers: { "content-type": "text/html; charset=utf-8" } });
  const json = new Response("{}", { headers: { "content-type": "application/json" } });

  it("puts a nonce CSP on HTML pages", () => {
    const h = securityHeaders("abc123", html);
    const csp = h["content-security-policy"];
    assert.ok(csp);
    assert.match(csp, /script-src 'self' 'nonce-abc123'/);
    assert.match(csp, /object-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /base-uri 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  });
  it("sends the usual hardening headers on every answer, CSP only on pages", () => {
    const h = securityHeaders(undefined, json);
    assert.equal(h["x-content-type-options"], "nosniff");
    assert.equal(h["x-frame-options"], "DENY");
    assert.equal(h["referrer-policy"], "strict-origin-when-cross-origin");
    assert.ok(h["permissions-policy"]);
    assert.equal(h["content-security-policy"], undefined);
  });
  it("without a nonce allows no inline script", () => {
    assert.match(securityHeaders(undefined, html)["content-security-policy"], /script-src 'self';/);
  });
});

describe("jsonMethodNotAllowed", () => {
  it("turns the framework's plain 405 into the JSON error body, keeping Allow", async () => {
    const req = new Request("http://x/agui", { method: "PUT" });
    const res = jsonMethodNotAllowed(
      req,
      new Response("Method Not Allowed", {
        status: 405,
        headers: { allow: "POST", "content-type": "text/plain; charset=utf-8" },
      }),
    );
    assert.equal(res.status, 405);
    assert.equal(res.headers.get("allow"), "POST");
    assert.match(res.headers.get("content-type")!, /^application\/json/);
    assert.deepEqual(await res.json(), {
      error: "method_not_allowed",
      message: "PUT is not allowed on /agui",
    });
  });
  it("leaves other answers alone", () => {
    const ok = new Response("x");
    assert.equal(jsonMethodNotAllowed(new Request("http://x/"), ok), ok);
  });
});
