/**
 * Fuzz: 240 malformed requests, generated from a seeded PRNG (the same ones every run), against
 * the real gateway on port 0 with a fake workflow service. Each must get a 4xx with a JSON
 * `{error, message}` body; afterwards `/health` is 200 and a normal run still completes.
 *
 * What counts as malformed: bodies that are random bytes, invalid UTF-8, broken or deeply
 * nested JSON, wrong shapes, too large (declared or streamed); wrong methods and content types;
 * unknown or hostile run ids; bad `Last-Event-ID` and query values; large headers (16–60 KiB:
 * 431 `headers_too_large` from `MAX_HEADER_BYTES`) and huge ones; valid starts nested past
 * `MAX_JSON_DEPTH` (400 `too_deep`). With `GATEWAY_TOKEN` set, forged bearers and session
 * cookies on every page, `/metrics` and `/agui*` get 401 or a redirect to `/login`, never a
 * run's data. Not counted:
 * `OPTIONS` preflights (204 by design) and `HEAD` (a GET without a body).
 *
 * One documented exception: a request whose headers exceed Deno's HTTP server limit (~64 KiB)
 * is refused by the server itself, before any application code runs, with a bodiless 400 (or
 * 431); for that generator only (70 KiB and more), that answer is accepted.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import type { FakeUpstream } from "../fixtures/fake_upstream.ts";
import { postJson, relayToFake, startGateway, type TestGateway } from "../fixtures/gateway.ts";
import { signSession } from "../../lib/http/session.ts";
import { readSse, types } from "../fixtures/sse_reader.ts";
import { seeded } from "../fixtures/random.ts";

interface Case {
  kind: string;
  path: string;
  init: RequestInit;
  /** The server itself (not the app) may refuse it without a body. */
  serverLevel?: boolean;
  /** The exact status and error code it must get. */
  expect?: { status: number; error: string };
}

const JSON_CT = { "content-type": "application/json" };
const KNOWN_RUN = "fuzz-known-run";

function generate(seed: number, n: number): Case[] {
  const rnd = seeded(seed);
  const int = (max: number) => Math.floor(rnd() * max);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  const bytes = (len: number) => Uint8Array.from({ length: len }, () => int(256));
  const deep = (depth: number, open = "[", close = "]") => open.repeat(depth) + close.repeat(depth);
  const hostileIds = [
    "..",
    "..%2F..%2Fetc%2Fpasswd",
    "%00",
    "a%20b",
    "x".repeat(129),
    "%F0%9F%92%A5",
    "%FF%FE",
    "run%0D%0Ainjected:1",
    "'%20OR%201=1",
    "%3Cscript%3E",
    "__proto__",
    "constructor",
    "unknown-run-" + int(1e9),
  ];
  // Endpoints that read a body (abort reads none: any body is ignored, by design).
  const apiPaths = ["/agui", `/agui/runs/${KNOWN_RUN}/approval`];
  const badJson = [
    "",
    "{",
    "}",
    "nul",
    "{'graph_name': 'x'}",
    '{"graph_name": "hotel_o2c", }',
    '{"graph_name": "hotel_o2c" "initial_state": {}}',
    "[1, 2,",
    '"unterminated',
    "NaN",
    "\u0000",
    '{"a": 1e99999}x',
  ];
  const wrongShapes = [
    "null",
    "42",
    '"a string"',
    "[]",
    "true",
    "{}",
    '{"graph_name": 1, "initial_state": {}}',
    '{"graph_name": "Hotel O2C", "initial_state": {}}',
    '{"graph_name": "hotel_o2c", "initial_state": []}',
    '{"graph_name": "hotel_o2c", "initial_state": "x"}',
    '{"graph_name": "hotel_o2c", "initial_state": {}, "run_id": "../../x"}',
    '{"graph_name": "hotel_o2c", "initial_state": {}, "run_id": ""}',
    '{"graph_name": "nope_graph", "initial_state": {}}',
    '{"threadId": 5, "runId": "r", "messages": "x"}',
    '{"threadId": "t", "runId": "../x", "messages": [], "state": {}, "tools": [], "context": [], "forwardedProps": {}}',
    '{"__proto__": {"graph_name": "hotel_o2c"}, "initial_state": {}}',
  ];
  const badApprovals = [
    "{}",
    '{"stepId": "", "decision": "approve"}',
    '{"stepId": "s", "decision": "maybe"}',
    `{"stepId": "${"s".repeat(300)}", "decision": "approve"}`,
    '{"stepId": "not_waiting", "decision": "approve"}',
    '{"stepId": "s", "decision": "approve", "comment": 5}',
  ];
  const generators: Array<() => Case> = [
    () => ({
      kind: "random bytes",
      path: pick(apiPaths),
      init: { method: "POST", headers: JSON_CT, body: bytes(1 + int(2000)) },
    }),
    () => {
      // Invalid UTF-8: a lone continuation byte or a truncated sequence inside a JSON string.
      const prefix = new TextEncoder().encode(
        '{"graph_name": "hotel_o2c", "initial_state": {"p": "',
      );
      const bad = pick([[0x80], [0xc3], [0xed, 0xa0, 0x80], [0xff, 0xfe], [
        0xf4,
        0x90,
        0x80,
        0x80,
      ]]);
      const suffix = new TextEncoder().encode('"}}');
      return {
        kind: "invalid utf-8",
        path: pick(apiPaths),
        init: {
          method: "POST",
          headers: JSON_CT,
          body: Uint8Array.from([...prefix, ...bad, ...suffix]),
        },
      };
    },
    () => ({
      kind: "bad json",
      path: pick(apiPaths),
      init: { method: "POST", headers: JSON_CT, body: pick(badJson) },
    }),
    () => ({
      kind: "wrong shape",
      path: "/agui",
      init: { method: "POST", headers: JSON_CT, body: pick(wrongShapes) },
    }),
    () => {
      const depth = 1000 + int(30_000);
      const body = pick([
        deep(depth),
        deep(depth, '{"a":', "}").replace(/\{"a":\}+$/, "") + "1" + "}".repeat(depth),
        `{"graph_name": ${deep(depth)}, "initial_state": {}}`,
        `{"stepId": ${deep(depth)}, "decision": "approve"}`,
      ]);
      return {
        kind: "deep nesting",
        path: pick(apiPaths),
        init: { method: "POST", headers: JSON_CT, body },
      };
    },
    () => {
      // A valid start whose state is nested past MAX_JSON_DEPTH (64): refused before the service.
      const depth = 65 + int(3_000);
      const state = pick([
        '{"deep": ' + deep(depth - 1) + "}",
        '{"deep": ' + '{"k":'.repeat(depth - 1) + "1" + "}".repeat(depth - 1) + "}",
        '{"prompt": "[[[{{{ brackets in a string do not count", "deep": ' + deep(depth - 1) + "}",
      ]);
      return {
        kind: "valid shape, too deep",
        path: "/agui",
        init: {
          method: "POST",
          headers: JSON_CT,
          body: `{"graph_name": "hotel_o2c", "initial_state": ${state}}`,
        },
        expect: { status: 400, error: "too_deep" },
      };
    },
    () => {
      const size = 65_537 + int(200_000);
      const declared = rnd() < 0.5;
      const body = declared ? "x".repeat(size) : new ReadableStream<Uint8Array>({
        start(c) {
          for (let sent = 0; sent < size; sent += 16_384) c.enqueue(new Uint8Array(16_384));
          c.close();
        },
      });
      return {
        kind: declared ? "huge body" : "huge chunked body",
        path: pick(apiPaths),
        init: { method: "POST", headers: JSON_CT, body },
      };
    },
    () => {
      // 16–60 KiB of headers: past the app's MAX_HEADER_BYTES (16 KiB), below Deno's own limit,
      // as one long header or as many ordinary-sized ones.
      const total = 16_500 + int(60 * 1024 - 16_500 - 1_000);
      const headers: Record<string, string> = {};
      if (rnd() < 0.5) headers["x-filler"] = "a".repeat(total);
      else for (let i = 0; i * 1_000 < total; i++) headers[`x-filler-${i}`] = "b".repeat(990);
      return {
        kind: "large headers",
        path: pick(["/agui", "/agui/runs", "/health", "/", "/styles.css"]),
        init: { method: pick(["GET", "POST"]), headers },
        expect: { status: 431, error: "headers_too_large" },
      };
    },
    () => ({
      kind: "huge header",
      path: pick(["/agui", "/agui/runs", "/health"]),
      init: {
        method: "GET",
        headers: { "x-filler": "a".repeat(70_000 + int(200_000)) },
      },
      serverLevel: true,
    }),
    () => ({
      kind: "wrong method",
      path: pick([
        "/agui",
        "/agui/runs",
        `/agui/runs/${KNOWN_RUN}`,
        `/agui/runs/${KNOWN_RUN}/events`,
        `/agui/runs/${KNOWN_RUN}/approval`,
        `/agui/runs/${KNOWN_RUN}/abort`,
        "/agui/graphs",
        "/health",
        "/metrics",
      ]),
      init: { method: pick(["PUT", "DELETE", "PATCH"]), headers: JSON_CT, body: "{}" },
    }),
    () => ({
      kind: "wrong method (GET on POST routes)",
      path: pick(["/agui", `/agui/runs/${KNOWN_RUN}/approval`, `/agui/runs/${KNOWN_RUN}/abort`]),
      init: { method: "GET" },
    }),
    () => ({
      kind: "wrong content type",
      path: pick(["/agui", `/agui/runs/${KNOWN_RUN}/approval`]),
      init: {
        method: "POST",
        headers: pick([
          { "content-type": "text/plain" },
          { "content-type": "application/x-www-form-urlencoded" },
          { "content-type": "multipart/form-data; boundary=x" },
          { "content-type": "application/jsonp" },
          { "content-type": "" },
        ]),
        body: '{"graph_name": "hotel_o2c", "initial_state": {}}',
      },
    }),
    () => {
      const id = pick(hostileIds);
      return {
        kind: "unknown or hostile id",
        path: pick([
          `/agui/runs/${id}`,
          `/agui/runs/${id}/events`,
          `/agui/runs/${id}/approval`,
          `/agui/runs/${id}/abort`,
        ]),
        init: pick<RequestInit>([
          { method: "GET" },
          { method: "POST", headers: JSON_CT, body: '{"stepId": "s", "decision": "approve"}' },
        ]),
      };
    },
    () => ({
      kind: "bad approval",
      path: `/agui/runs/${KNOWN_RUN}/approval`,
      init: { method: "POST", headers: JSON_CT, body: pick(badApprovals) },
    }),
    () => ({
      kind: "bad last-event-id",
      path: `/agui/runs/${KNOWN_RUN}/events` +
        pick(["?after=-1", "?after=abc", "?after=1e3", `?after=${"9".repeat(30)}`, ""]),
      init: {
        method: "GET",
        headers: { "last-event-id": pick(["x", "-5", "1.5", "0x10", "9".repeat(20)]) },
      },
    }),
    () => ({
      kind: "bad query",
      path: "/agui/runs?" + pick([
        "status=bogus",
        "graph=Not-A-Graph",
        "limit=0",
        "limit=99999",
        "limit=-1",
        "limit=abc",
        `cursor=${"A".repeat(600)}`,
        "cursor=%00%01",
      ]),
      init: { method: "GET" },
    }),
    () => ({
      kind: "unknown api path",
      path: pick(["/agui/nope", "/agui/runs/a/b/c", "/agui/..%2f..%2fhealth", "/agui//runs"]),
      init: { method: pick(["GET", "POST"]) },
    }),
  ];
  const cases: Case[] = [];
  // Every generator at least 10 times, then random ones.
  for (const g of generators) for (let i = 0; i < 10; i++) cases.push(g());
  while (cases.length < n) cases.push(pick(generators)());
  return cases;
}

describe("fuzz: malformed requests", () => {
  let fake: FakeUpstream;
  let gw: TestGateway;
  relayToFake(
    { fake: { script: "hotel" }, env: { HEARTBEAT_MS: "50" } },
    (p) => ({ fake, gw } = p),
  );
  before(async () => {
    // A real run paused at its approval gate, so ids and approvals hit a known run too.
    const res = await postJson(`${gw.url}/agui`, {
      graph_name: "hotel_o2c",
      initial_state: {},
      run_id: KNOWN_RUN,
    });
    await readSse(res, (r) => r.frames.some((f) => f.event === "approval_required"));
  });

  it("answers 240 seeded malformed requests with 4xx JSON and stays healthy", async () => {
    const cases = generate(0x5eed, 240);
    assert.ok(cases.length >= 200);
    const failures: string[] = [];
    const kinds = new Map<string, number>();
    for (let i = 0; i < cases.length; i += 8) {
      await Promise.all(
        cases.slice(i, i + 8).map(async (c) => {
          kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1);
          const label = `${c.kind}: ${c.init.method} ${c.path.slice(0, 80)}`;
          let res: Response;
          try {
            res = await fetch(`${gw.url}${c.path}`, c.init);
          } catch (err) {
            failures.push(`${label} → fetch failed: ${err}`);
            return;
          }
          const text = await res.text();
          if (c.serverLevel && (res.status === 400 || res.status === 431) && text === "") return;
          if (c.expect && res.status !== c.expect.status) {
            failures.push(
              `${label} → ${res.status}, not ${c.expect.status}: ${text.slice(0, 120)}`,
            );
            return;
          }
          if (res.status < 400 || res.status > 499) {
            failures.push(`${label} → ${res.status} ${text.slice(0, 120)}`);
            return;
          }
          if (!/^application\/json/.test(res.headers.get("content-type") ?? "")) {
            failures.push(
              `${label} → ${res.status} content-type ${res.headers.get("content-type")}`,
            );
            return;
          }
          try {
            const body = JSON.parse(text);
            if (typeof body.error !== "string" || typeof body.message !== "string") {
              failures.push(`${label} → ${res.status} body ${text.slice(0, 120)}`);
            } else if (c.expect && body.error !== c.expect.error) {
              failures.push(`${label} → error ${body.error}, not ${c.expect.error}`);
            }
          } catch {
            failures.push(`${label} → ${res.status} unparsable ${text.slice(0, 120)}`);
          }
          if (!res.headers.get("x-request-id") && !c.serverLevel) {
            failures.push(`${label} → no x-request-id`);
          }
        }),
      );
    }
    assert.deepEqual(failures, [], failures.join("\n"));
    assert.ok(kinds.size >= 15, [...kinds.keys()].join(", "));

    // Nothing broke: no 5xx logged, no run created by the barrage, health and a real run fine.
    const errors = gw.logs.filter((l) => l.level === "error");
    assert.deepEqual(errors, []);
    const { runs } = await gw.services.store.list({ limit: 10 });
    assert.deepEqual(runs.map((r) => r.id), [KNOWN_RUN]);
    const health = await fetch(`${gw.url}/health`);
    assert.equal(health.status, 200);
    assert.equal((await health.json()).status, "ok");

    fake.setScript("complete");
    const res = await postJson(`${gw.url}/agui`, { graph_name: "hotel_o2c", initial_state: {} });
    assert.equal(res.status, 200);
    const read = await readSse(res);
    assert.equal(read.ended, true);
    assert.equal(types(read).at(-1), "workflow_complete");
    assert.equal(gw.services.streams.size, 0);
  });

  it("refuses 120 seeded forged credentials with GATEWAY_TOKEN set, showing no run data", async () => {
    const token = "fuzz-gateway-token-0123456789";
    const guarded = await startGateway({ WORKFLOW_SERVICE_URL: fake.url, GATEWAY_TOKEN: token });
    try {
      fake.setScript("hotel");
      const secret = "Admit Jane Roe, diagnosis confidential-4711";
      const started = await postJson(`${guarded.url}/agui`, {
        graph_name: "hotel_o2c",
        initial_state: { prompt: secret },
      }, { authorization: `Bearer ${token}` });
      const runId = started.headers.get("x-workflow-id")!;
      await readSse(started, (r) => r.frames.some((f) => f.event === "approval_required"));
      const real = await signSession(token, Date.now() + 60_000);
      const [exp, mac] = real.split(".");
      const rnd = seeded(0xc00c1e);
      const int = (max: number) => Math.floor(rnd() * max);
      const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
      const flip = (text: string) => {
        const i = int(text.length);
        return text.slice(0, i) + (text[i] === "A" ? "B" : "A") + text.slice(i + 1);
      };
      const forgeries = [
        () => ({ authorization: `Bearer ${flip(token)}` }),
        () => ({ authorization: `Bearer ${token.slice(0, int(token.length))}` }),
        () => ({ authorization: `Basic ${btoa(`user:${token}`)}` }),
        () => ({ cookie: `ws_session=${exp}.${flip(mac)}` }),
        () => ({ cookie: `ws_session=${Number(exp) + 1 + int(1e9)}.${mac}` }),
        () => ({ cookie: `ws_session=${Date.now() - 1 - int(1e6)}.${mac}` }),
        () => ({ cookie: `ws_session=${exp}.${mac}x` }),
        () => ({ cookie: `ws_session=${token}` }),
        () => ({ cookie: `other=${real}` }),
        () => ({ cookie: "ws_session=" + "9".repeat(1 + int(40)) + "." + "A".repeat(int(200)) }),
      ];
      const paths = [
        "/",
        "/runs",
        `/runs/${runId}`,
        "/metrics",
        "/agui/runs",
        `/agui/runs/${runId}`,
      ];
      const failures: string[] = [];
      for (let i = 0; i < 120; i++) {
        const headers: Record<string, string> = {
          ...pick(forgeries)(),
          accept: pick(["text/html", "*/*"]),
        };
        const path = pick(paths);
        const res = await fetch(`${guarded.url}${path}`, { headers, redirect: "manual" });
        const text = await res.text();
        const label = `${path} ${JSON.stringify(headers).slice(0, 100)}`;
        const isPage = !path.startsWith("/agui") && path !== "/metrics";
        const wanted = isPage && headers.accept === "text/html" ? 303 : 401;
        if (res.status !== wanted) failures.push(`${label} → ${res.status}, not ${wanted}`);
        if (text.includes(secret) || text.includes(runId)) {
          failures.push(`${label} → leaks the run`);
        }
      }
      assert.deepEqual(failures, [], failures.join("\n"));
      await guarded.services.gateway.abort(runId);
    } finally {
      await guarded.close();
    }
  });
});
