/**
 * Hardening of the gateway against a fake workflow service, both on real `Deno.serve` port 0:
 * MAX_STREAMS → 503, the rate limit → 429 (and its configured burst), the header budget → 431,
 * the CORS allowlist and preflight, the bearer check,
 * the CSP nonce on pages, and the request id in responses and log lines; per-client stream cap
 * and rate limits on event streams, approvals and aborts, the cap on a stream parked at an
 * approval gate, the body read timeout and the JSON depth limit.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type FakeUpstream, startFakeUpstream } from "../fixtures/fake_upstream.ts";
import {
  postJson,
  startGateway,
  type TestGateway,
  withFakeUpstream,
  withGateway,
} from "../fixtures/gateway.ts";
import { readSse } from "../fixtures/sse_reader.ts";
import { poll } from "../fixtures/within.ts";

const BODY = { graph_name: "hotel_o2c", initial_state: { prompt: "Two nights" } };
const TOKEN = "gateway-token-0123456789";
const APP = "https://app.example";

async function expectJsonError(res: Response, status: number, code: string) {
  assert.equal(res.status, status);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  const body = await res.json();
  assert.equal(body.error, code);
  assert.equal(typeof body.message, "string");
  assert.ok(res.headers.get("x-request-id"), "errors carry the request id");
}

describe("hardening", () => {
  let fake: FakeUpstream;
  withFakeUpstream({ script: "idle" }, (f) => (fake = f));

  describe("MAX_STREAMS", () => {
    let gw: TestGateway;
    withGateway(() => ({ WORKFLOW_SERVICE_URL: fake.url, MAX_STREAMS: "1" }), (g) => (gw = g));

    it("answers 503 JSON with Retry-After past the limit, and takes streams again after", async () => {
      const first = await postJson(`${gw.url}/agui`, { ...BODY, run_id: "cap-1" });
      assert.equal(first.status, 200);
      const runId = first.headers.get("x-workflow-id")!;
      const reader = first.body!.getReader();
      await reader.read(); // the stream is open

      const executes = fake.requests.length;
      const second = await postJson(`${gw.url}/agui`, { ...BODY, run_id: "cap-2" });
      assert.equal(second.headers.get("retry-after"), "5");
      await expectJsonError(second, 503, "too_many_streams");
      // Refused before anything happened: no run, no upstream call.
      const aguiSecond = await postJson(`${gw.url}/agui`, {
        threadId: "t-cap",
        runId: "cap-3",
        messages: [],
        forwardedProps: { graph_name: "hotel_o2c" },
      });
      assert.equal(aguiSecond.headers.get("retry-after"), "5");
      await expectJsonError(aguiSecond, 503, "too_many_streams");
      assert.equal(fake.requests.length, executes, "no /execute for a refused POST");
      for (const id of ["cap-2", "cap-3"]) {
        const run = await fetch(`${gw.url}/agui/runs/${id}`);
        assert.equal(run.status, 404, `run ${id} was not created`);
        await run.body?.cancel();
      }
      assert.equal(gw.services.streams.reserved, 0, "refused requests hold no stream slot");
      const replay = await fetch(`${gw.url}/agui/runs/${runId}/events`);
      assert.equal(replay.headers.get("retry-after"), "5");
      await expectJsonError(replay, 503, "too_many_streams");
      // Non-streaming endpoints are not counted.
      const list = await fetch(`${gw.url}/agui/runs`);
      assert.equal(list.status, 200);
      await list.body?.cancel();

      await reader.cancel();
      await poll(() => gw.services.streams.size === 0, 100, 10);
      assert.equal(gw.services.streams.size, 0);
      const again = await fetch(`${gw.url}/agui/runs/${runId}/events`);
      assert.equal(again.status, 200);
      await again.body?.cancel();
      await gw.services.gateway.abort(runId);
    });
  });

  describe("rate limit on POST /agui", () => {
    let gw: TestGateway;
    withGateway(
      () => ({ WORKFLOW_SERVICE_URL: fake.url, RATE_LIMIT_PER_MINUTE: "1" }),
      (g) => (gw = g),
    );

    it("answers 429 JSON with Retry-After once a client's bucket is empty", async () => {
      const ok = await postJson(`${gw.url}/agui`, { ...BODY, run_id: "rl-1" });
      assert.equal(ok.status, 200);
      await ok.body?.cancel();
      const limited = await postJson(`${gw.url}/agui`, BODY);
      assert.equal(limited.headers.get("retry-after"), "60");
      await expectJsonError(limited, 429, "rate_limited");
      // Reading is not limited.
      for (let i = 0; i < 3; i++) {
        const r = await fetch(`${gw.url}/agui/runs/rl-1`);
        assert.equal(r.status, 200);
        await r.body?.cancel();
      }
      await gw.services.gateway.abort("rl-1");
      const metrics = await (await fetch(`${gw.url}/metrics`)).text();
      assert.match(metrics, /workflow_requests_rejected_total\{status="429"\} 1/);
    });
  });

  describe("configured limits: RATE_LIMIT_BURST and MAX_HEADER_BYTES", () => {
    let gw: TestGateway;
    withGateway(() => ({
      WORKFLOW_SERVICE_URL: fake.url,
      RATE_LIMIT_PER_MINUTE: "1",
      RATE_LIMIT_BURST: "3",
      MAX_HEADER_BYTES: "2048",
    }), (g) => (gw = g));

    it("lets a client start RATE_LIMIT_BURST runs at once, then answers 429", async () => {
      // 1 per minute alone would allow a burst of 1.
      for (const id of ["burst-1", "burst-2", "burst-3"]) {
        const ok = await postJson(`${gw.url}/agui`, { ...BODY, run_id: id });
        assert.equal(ok.status, 200, id);
        await ok.body?.cancel();
      }
      const limited = await postJson(`${gw.url}/agui`, { ...BODY, run_id: "burst-4" });
      assert.equal(limited.headers.get("retry-after"), "60", "1 per minute: a token a minute");
      await expectJsonError(limited, 429, "rate_limited");
      for (const id of ["burst-1", "burst-2", "burst-3"]) await gw.services.gateway.abort(id);
    });

    it("answers headers past MAX_HEADER_BYTES with 431 JSON, before any handler", async () => {
      for (const path of ["/health", "/agui/runs", "/"]) {
        const big = await fetch(`${gw.url}${path}`, {
          headers: { "x-filler": "a".repeat(1500), "x-more": "b".repeat(1000) },
        });
        await expectJsonError(big, 431, "headers_too_large");
        assert.equal(big.headers.get("x-content-type-options"), "nosniff", path);
      }
      const runs = await gw.services.store.list({ limit: 10 });
      const before = runs.runs.length;
      const post = await postJson(`${gw.url}/agui`, { ...BODY, run_id: "big-headers" }, {
        "x-filler": "c".repeat(3000),
      });
      await expectJsonError(post, 431, "headers_too_large");
      assert.equal((await gw.services.store.list({ limit: 10 })).runs.length, before, "no run");
      // Under the budget: served as usual.
      const small = await fetch(`${gw.url}/health`, { headers: { "x-filler": "a".repeat(1000) } });
      assert.equal(small.status, 200);
      await small.body?.cancel();
    });
  });

  describe("CORS allowlist and bearer token", () => {
    let gw: TestGateway;
    withGateway(() => ({
      WORKFLOW_SERVICE_URL: fake.url,
      ALLOWED_ORIGINS: `${APP}, https://other.example`,
      GATEWAY_TOKEN: TOKEN,
    }), (g) => (gw = g));
    const auth = { authorization: `Bearer ${TOKEN}` };

    it("answers an allowed origin with its CORS headers", async () => {
      const res = await fetch(`${gw.url}/agui/runs`, { headers: { origin: APP, ...auth } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("access-control-allow-origin"), APP);
      assert.match(res.headers.get("access-control-expose-headers") ?? "", /x-workflow-id/);
      assert.match(res.headers.get("vary") ?? "", /origin/i);
      await res.body?.cancel();
    });

    it("refuses another origin with 403 JSON and no CORS headers", async () => {
      const res = await fetch(`${gw.url}/agui/runs`, {
        headers: { origin: "https://evil.example", ...auth },
      });
      assert.equal(res.headers.get("access-control-allow-origin"), null);
      await expectJsonError(res, 403, "origin_not_allowed");
    });

    it("answers preflights: 204 with methods and headers for an allowed origin, 403 otherwise", async () => {
      const ok = await fetch(`${gw.url}/agui`, {
        method: "OPTIONS",
        headers: {
          origin: APP,
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization, content-type",
        },
      });
      assert.equal(ok.status, 204, "a preflight needs no token");
      assert.equal(ok.headers.get("access-control-allow-origin"), APP);
      assert.match(ok.headers.get("access-control-allow-methods") ?? "", /POST/);
      assert.match(ok.headers.get("access-control-allow-headers") ?? "", /authorization/);
      assert.match(ok.headers.get("access-control-allow-headers") ?? "", /last-event-id/);
      await ok.body?.cancel();
      const denied = await fetch(`${gw.url}/agui`, {
        method: "OPTIONS",
        headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
      });
      await expectJsonError(denied, 403, "origin_not_allowed");
    });

    it("requires the bearer token, compared exactly, with a JSON 401", async () => {
      const none = await fetch(`${gw.url}/agui/runs`);
      assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="agui"');
      await expectJsonError(none, 401, "unauthorized");
      for (
        const bad of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, `Basic ${TOKEN}`, TOKEN]
      ) {
        const res = await fetch(`${gw.url}/agui/runs`, { headers: { authorization: bad } });
        await expectJsonError(res, 401, "unauthorized");
      }
      const ok = await fetch(`${gw.url}/agui/runs`, { headers: auth });
      assert.equal(ok.status, 200);
      await ok.body?.cancel();
      // Pages, health and metrics are not behind the token.
      const health = await fetch(`${gw.url}/health`);
      assert.equal(health.status, 200);
      await health.body?.cancel();
    });
  });

  describe("CORS with *", () => {
    let gw: TestGateway;
    withGateway(() => ({ WORKFLOW_SERVICE_URL: fake.url, ALLOWED_ORIGINS: "*" }), (g) => (gw = g));

    it("allows any origin", async () => {
      const res = await fetch(`${gw.url}/agui/runs`, {
        headers: { origin: "https://any.example" },
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("access-control-allow-origin"), "*");
      await res.body?.cancel();
      const pre = await fetch(`${gw.url}/agui/runs/x/events`, {
        method: "OPTIONS",
        headers: { origin: "https://any.example", "access-control-request-method": "GET" },
      });
      assert.equal(pre.status, 204);
      assert.equal(pre.headers.get("access-control-allow-origin"), "*");
      await pre.body?.cancel();
    });
  });

  describe("pages, CSP and request ids", () => {
    let gw: TestGateway;
    withGateway(() => ({ WORKFLOW_SERVICE_URL: fake.url }), (g) => (gw = g));

    it("gives the island boot script the nonce of the page's CSP", async () => {
      const res = await fetch(`${gw.url}/`, { headers: { accept: "text/html" } });
      assert.equal(res.status, 200);
      const csp = res.headers.get("content-security-policy") ?? "";
      const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
      assert.ok(nonce, csp);
      assert.doesNotMatch(csp, /unsafe-inline/);
      const html = await res.text();
      const scripts = [...html.matchAll(/<script\b([^>]*)>/g)].map((m) => m[1]);
      assert.ok(scripts.length >= 1, "the console has islands");
      for (const attrs of scripts) {
        // Inline scripts need the nonce; a script with src is allowed by 'self'.
        if (!/\bsrc=/.test(attrs)) assert.match(attrs, new RegExp(`nonce="${nonce}"`));
      }
      for (const h of ["x-content-type-options", "x-frame-options", "referrer-policy"]) {
        assert.ok(res.headers.get(h), h);
      }
      // A new nonce per response.
      const again = await fetch(`${gw.url}/`, { headers: { accept: "text/html" } });
      await again.body?.cancel();
      assert.notEqual(
        /'nonce-([^']+)'/.exec(again.headers.get("content-security-policy")!)?.[1],
        nonce,
      );
    });

    it("gives static files the request id and security headers too", async () => {
      const res = await fetch(`${gw.url}/styles.css`);
      assert.equal(res.status, 200);
      await res.body?.cancel();
      assert.ok(res.headers.get("x-request-id"));
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    });

    it("ships no script on pages without islands", async () => {
      for (const path of ["/runs", "/runs/nope", "/no-such-page"]) {
        const res = await fetch(`${gw.url}${path}`, { headers: { accept: "text/html" } });
        assert.match(res.headers.get("content-type") ?? "", /^text\/html/, path);
        assert.ok(res.headers.get("content-security-policy"), path);
        assert.doesNotMatch(await res.text(), /<script/i, path);
      }
    });

    it("echoes a sane x-request-id, replaces a hostile one, and logs every request with it", async () => {
      const given = await fetch(`${gw.url}/agui`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-request-id": "test-req-0001" },
        body: "{not json",
      });
      assert.equal(given.headers.get("x-request-id"), "test-req-0001");
      await expectJsonError(given, 400, "bad_json");
      const line = gw.logs.find((l) => l.request_id === "test-req-0001" && l.msg === "request");
      assert.ok(line, "an access log line with the request id");
      assert.equal(line.status, 400);
      assert.equal(line.path, "/agui");

      const hostile = await fetch(`${gw.url}/health`, {
        headers: { "x-request-id": 'a b"<script>' + "x".repeat(100) },
      });
      await hostile.body?.cancel();
      assert.match(hostile.headers.get("x-request-id")!, /^[0-9a-f-]{36}$/);
    });

    it("puts the request id on the relay's lines for the run it started", async () => {
      const res = await postJson(`${gw.url}/agui`, { ...BODY, run_id: "rid-run" }, {
        "x-request-id": "req-starts-run",
      });
      assert.equal(res.status, 200);
      await readSse(res, (r) => r.frames.length >= 1);
      await gw.services.gateway.abort("rid-run");
      const runLines = gw.logs.filter((l) => l.run_id === "rid-run");
      assert.ok(runLines.length > 0);
      assert.ok(
        runLines.some((l) => l.request_id === "req-starts-run"),
        JSON.stringify(runLines),
      );
      for (const l of gw.logs) {
        if (l.msg === "request") assert.ok(l.request_id, JSON.stringify(l));
      }
    });
  });

  describe("per-client limits: streams, event streams, approvals and aborts", () => {
    let gw: TestGateway;
    withGateway(() => ({
      WORKFLOW_SERVICE_URL: fake.url,
      MAX_STREAMS: "20",
      MAX_STREAMS_PER_CLIENT: "2",
      RATE_LIMIT_EVENTS_PER_MINUTE: "600",
      RATE_LIMIT_ACTIONS_PER_MINUTE: "1",
    }), (g) => (gw = g));

    it("caps the streams one client holds, and takes it again once one closes", async () => {
      const start = await postJson(`${gw.url}/agui`, { ...BODY, run_id: "pc-1" });
      assert.equal(start.status, 200);
      const first = start.body!.getReader();
      await first.read();
      const second = await fetch(`${gw.url}/agui/runs/pc-1/events`);
      assert.equal(second.status, 200);
      const third = await fetch(`${gw.url}/agui/runs/pc-1/events`);
      assert.equal(third.headers.get("retry-after"), "5");
      await expectJsonError(third, 429, "too_many_client_streams");
      // Other requests from the same client are not streams and still pass.
      const list = await fetch(`${gw.url}/agui/runs`);
      assert.equal(list.status, 200);
      await list.body?.cancel();
      await first.cancel();
      let again: Response | undefined;
      for (let i = 0; i < 100; i++) {
        again = await fetch(`${gw.url}/agui/runs/pc-1/events`);
        if (again.status === 200) break;
        await again.body?.cancel();
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(again!.status, 200, "a place is given back when a stream closes");
      await again!.body?.cancel();
      await second.body?.cancel();
    });

    it("rate limits approvals and aborts per client", async () => {
      const first = await fetch(`${gw.url}/agui/runs/pc-1/abort`, { method: "POST" });
      assert.equal(first.status, 202);
      await first.body?.cancel();
      const approval = await postJson(`${gw.url}/agui/runs/pc-1/approval`, {
        stepId: "x",
        decision: "approve",
      });
      await expectJsonError(approval, 429, "rate_limited");
      assert.ok(Number(approval.headers.get("retry-after")) >= 1);
    });
  });

  describe("per-client stream cap off (MAX_STREAMS_PER_CLIENT=0)", () => {
    it("never asks when a stream's response completes (nothing held per stream for it)", async () => {
      let asked = 0;
      const gw = await startGateway(
        { WORKFLOW_SERVICE_URL: fake.url, MAX_STREAMS_PER_CLIENT: "0" },
        {},
        (info) => ({
          remoteAddr: info.remoteAddr,
          get completed() {
            asked++;
            return info.completed;
          },
        }),
      );
      try {
        const start = await postJson(`${gw.url}/agui`, { ...BODY, run_id: "cap-off" });
        assert.equal(start.status, 200);
        const reader = start.body!.getReader();
        assert.equal((await reader.read()).done, false);
        const events = await fetch(`${gw.url}/agui/runs/cap-off/events`);
        assert.equal(events.status, 200);
        await events.body?.cancel();
        await reader.cancel();
        assert.equal(asked, 0);
      } finally {
        await gw.close();
      }
    });
  });

  describe("rate limit on opening event streams", () => {
    it("answers 429 once a client opened RATE_LIMIT_EVENTS_PER_MINUTE's burst", async () => {
      const gw = await startGateway({
        WORKFLOW_SERVICE_URL: fake.url,
        RATE_LIMIT_EVENTS_PER_MINUTE: "1",
      });
      try {
        const one = await fetch(`${gw.url}/agui/runs/nope/events`);
        assert.equal(one.status, 404);
        await one.body?.cancel();
        await expectJsonError(await fetch(`${gw.url}/agui/runs/nope/events`), 429, "rate_limited");
      } finally {
        await gw.close();
      }
    });
  });

  describe("a stream parked on an approval gate", () => {
    it("is closed after WAITING_STREAM_MAX_MS; the client resumes where it was", async () => {
      const hotel = await startFakeUpstream({ script: "hotel" });
      const gw = await startGateway({
        WORKFLOW_SERVICE_URL: hotel.url,
        WAITING_STREAM_MAX_MS: "1000",
      });
      try {
        const res = await postJson(`${gw.url}/agui`, BODY);
        const runId = res.headers.get("x-workflow-id")!;
        const read = await readSse(res, undefined, 8_000);
        assert.ok(read.ended, "the server ended the stream");
        assert.equal(read.frames.at(-1)!.event, "approval_required");
        assert.deepEqual(read.retries, [2_000], "the client is told when to come back");
        assert.ok(read.comments.includes("approval wait; reconnect"));
        assert.equal(gw.services.streams.size, 0);
        assert.equal((await gw.services.store.get(runId))!.status, "waiting_approval");
        const last = read.frames.at(-1)!.id;
        const resumed = await fetch(`${gw.url}/agui/runs/${runId}/events`, {
          headers: { "last-event-id": String(last) },
        });
        assert.equal(resumed.status, 200);
        await resumed.body?.cancel();
        await gw.services.gateway.abort(runId);
      } finally {
        await gw.close();
        await hotel.close();
      }
    });
  });

  describe("request bodies: read timeout and nesting depth", () => {
    let gw: TestGateway;
    withGateway(
      () => ({ WORKFLOW_SERVICE_URL: fake.url, BODY_TIMEOUT_MS: "300" }),
      (g) => (gw = g),
    );

    it("answers 408 to a body that trickles in, and lets go of the request", async () => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: gw.port });
      // A byte now and then keeps the body "arriving" but never complete.
      const trickle = setInterval(() => conn.write(new Uint8Array([0x20])).catch(() => {}), 100);
      // Without a body deadline no answer ever comes: give up (and fail) after 5 s.
      const giveUp = setTimeout(() => conn.close(), 5_000);
      try {
        const head = "POST /agui/runs/slow/approval HTTP/1.1\r\nhost: 127.0.0.1\r\n" +
          "content-type: application/json\r\ncontent-length: 1000\r\n\r\n{";
        await conn.write(new TextEncoder().encode(head));
        let text = "";
        const buf = new Uint8Array(4096);
        while (!text.endsWith("}")) {
          const n = await conn.read(buf);
          if (n === null) break;
          text += new TextDecoder().decode(buf.subarray(0, n));
        }
        assert.match(text, /^HTTP\/1\.1 408 /);
        assert.match(text, /\r\nconnection: close\r\n/);
        assert.match(text, /"error":"body_timeout"/);
        const line = gw.logs.find((l) =>
          l.msg === "request" && l.path === "/agui/runs/slow/approval"
        );
        assert.equal(line?.status, 408, "the handler finished");
      } finally {
        clearInterval(trickle);
        clearTimeout(giveUp);
        try {
          conn.close();
        } catch { /* closed by giveUp */ }
      }
    });

    it("refuses JSON nested deeper than MAX_JSON_DEPTH before calling the service", async () => {
      const calls = fake.requests.length;
      let deep: unknown = "leaf";
      for (let i = 0; i < 2_000; i++) deep = { d: deep };
      const res = await postJson(`${gw.url}/agui`, {
        graph_name: "hotel_o2c",
        initial_state: { prompt: "x", deep },
      });
      await expectJsonError(res, 400, "too_deep");
      assert.equal(fake.requests.length, calls, "nothing reached the workflow service");
      const array = await postJson(
        `${gw.url}/agui/runs/x/approval`,
        "[".repeat(65) + "]".repeat(65),
      );
      await expectJsonError(array, 400, "too_deep");
      // Brackets inside strings do not count, and 64 levels are fine.
      let ok: unknown = "[[[[{{{{";
      for (let i = 0; i < 62; i++) ok = [ok];
      const fine = await postJson(`${gw.url}/agui`, {
        graph_name: "hotel_o2c",
        initial_state: { prompt: "x", ok },
      });
      assert.equal(fine.status, 200);
      const id = fine.headers.get("x-workflow-id")!;
      await fine.body?.cancel();
      await gw.services.gateway.abort(id);
    });
  });
});
