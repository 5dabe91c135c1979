import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { jsonMethodNotAllowed, timingSafeEqual } from "../../lib/gateway/guard.ts";
import { securityHeaders, setSecurityHeaders } from "../../lib/http/security.ts";
import { allowedHosts, hostMatches, safeNext } from "../../lib/http/access.ts";
import { jsonDepth } from "../../lib/http/body.ts";
import { ClientStreams } from "../../lib/http/client_streams.ts";
import { canonicalJson, digestStartInput } from "../../lib/gateway/start_input.ts";
import { readCookie, signSession, verifySession } from "../../lib/http/session.ts";

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

describe("setSecurityHeaders", () => {
  it("sets what securityHeaders lists, keeping headers the answer has", () => {
    const page = new Response("<p>", {
      headers: { "content-type": "text/html", "x-frame-options": "SAMEORIGIN" },
    });
    setSecurityHeaders(page, "n1");
    const want = securityHeaders("n1", page);
    for (const [k, v] of Object.entries(want)) {
      assert.equal(page.headers.get(k), k === "x-frame-options" ? "SAMEORIGIN" : v, k);
    }
    const api = new Response("{}", { headers: { "content-type": "application/json" } });
    setSecurityHeaders(api, "n1");
    assert.equal(api.headers.get("x-content-type-options"), "nosniff");
    assert.equal(api.headers.get("content-security-policy"), null);
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

describe("session cookies", () => {
  const token = "gateway-token-0123456789";
  it("verifies its own signature until expiry, and nothing else", async () => {
    const now = 1_000_000;
    const value = await signSession(token, now + 60_000);
    assert.equal(await verifySession(token, value, now), true);
    assert.equal(await verifySession(token, value, now + 60_000), false, "expired");
    assert.equal(await verifySession("another-token-0123456789", value, now), false);
    const [exp, mac] = value.split(".");
    assert.equal(await verifySession(token, `${Number(exp) + 1}.${mac}`, now), false);
    for (const bad of ["", ".", `${exp}.`, `${exp}.${mac}x!`, `x${exp}.${mac}`]) {
      assert.equal(await verifySession(token, bad, now), false, bad);
    }
  });
  it("reads one cookie among others", () => {
    const req = new Request("http://h/", { headers: { cookie: "a=1; ws_session=v.x; b=2" } });
    assert.equal(readCookie(req, "ws_session"), "v.x");
    assert.equal(readCookie(req, "c"), null);
  });
});

describe("Host allowlist", () => {
  it("defaults to loopback names without a token and to any with one", () => {
    const loopback = allowedHosts({ ALLOWED_HOSTS: undefined, GATEWAY_TOKEN: undefined });
    for (const h of ["localhost", "app.localhost", "127.0.0.1", "[::1]"]) {
      assert.ok(hostMatches(h, loopback), h);
    }
    for (const h of ["evil.example", "localhost.evil.example", "127.0.0.1.nip.io"]) {
      assert.ok(!hostMatches(h, loopback), h);
    }
    assert.deepEqual(allowedHosts({ ALLOWED_HOSTS: undefined, GATEWAY_TOKEN: "t".repeat(16) }), [
      "*",
    ]);
  });
  it("matches names exactly and .suffixes with their subdomains", () => {
    const list = ["app.example", ".corp.example"];
    assert.ok(hostMatches("APP.example.", list));
    assert.ok(hostMatches("corp.example", list));
    assert.ok(hostMatches("a.b.corp.example", list));
    assert.ok(!hostMatches("xapp.example", list));
    assert.ok(!hostMatches("evilcorp.example", list));
  });
});

describe("safeNext", () => {
  it("keeps local paths and refuses everything that could leave the site", () => {
    assert.equal(safeNext("/runs/abc?before=5"), "/runs/abc?before=5");
    for (const bad of [null, "", "https://evil.example", "//evil.example", "/\\evil", "runs"]) {
      assert.equal(safeNext(bad), "/", String(bad));
    }
  });
});

describe("jsonDepth", () => {
  it("counts nesting outside strings and stops past the limit", () => {
    assert.equal(jsonDepth('{"a":[1,{"b":[]}]}', 64), 4);
    assert.equal(jsonDepth('"[[[[{{{{"', 64), 0);
    assert.equal(jsonDepth('["\\"[[["]', 64), 1);
    assert.equal(jsonDepth("[".repeat(65) + "]".repeat(65), 64), -1);
    assert.equal(jsonDepth("[".repeat(64) + "]".repeat(64), 64), 64);
  });
});

describe("ClientStreams", () => {
  it("caps each client separately and gives places back once", () => {
    const cs = new ClientStreams(2);
    const a1 = cs.take("a")!;
    const a2 = cs.take("a")!;
    assert.equal(cs.take("a"), null);
    assert.ok(cs.take("b"), "another client is not affected");
    a1();
    a1();
    assert.equal(cs.count("a"), 1);
    assert.ok(cs.take("a"));
    a2();
    assert.ok(new ClientStreams(0).take("a"), "0 turns the cap off");
  });
});

describe("start input digests", () => {
  it("are equal for the same input in any key order and differ otherwise", async () => {
    assert.equal(
      canonicalJson({ b: [1, { d: 1, c: 2 }], a: null }),
      '{"a":null,"b":[1,{"c":2,"d":1}]}',
    );
    const a = await digestStartInput({ prompt: "p", ctx: { x: 1, y: 2 } });
    const b = await digestStartInput({ ctx: { y: 2, x: 1 }, prompt: "p" });
    assert.deepEqual(a, b);
    assert.match(a.state, /^[0-9a-f]{64}$/);
    const c = await digestStartInput({ prompt: "q", ctx: { x: 1, y: 2 } });
    assert.equal(c.state, a.state);
    assert.notEqual(c.prompt, a.prompt);
    assert.equal((await digestStartInput({})).prompt, undefined);
  });
});
