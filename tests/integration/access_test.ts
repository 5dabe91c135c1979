/**
 * Who may reach what (issue 17, points 1, 2, 8 and 9), on a real `Deno.serve` port 0 with a fake
 * workflow service: with `GATEWAY_TOKEN` set the dashboard and `/metrics` need the token or a
 * session from `/login` (whose cookie also authenticates the console's `/agui*` calls, with
 * cookie-authenticated writes refused from other origins); `/health` shows only its status to
 * strangers; a Host outside the allowlist is refused (DNS rebinding); a run's page shows one page
 * of its timeline whatever the run's size.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type FakeUpstream, startFakeUpstream } from "../fixtures/fake_upstream.ts";
import { postJson, startGateway, type TestGateway } from "../fixtures/gateway.ts";
import type { RunSummary } from "../../lib/events.ts";

const TOKEN = "gateway-token-0123456789";
const METRICS_TOKEN = "metrics-token-0123456789";
const HTML = { accept: "text/html" };

/** Sends one raw HTTP/1.1 request (any Host header) and returns the status line and body. */
async function rawRequest(port: number, lines: string[], body = ""): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const head = [...lines, "connection: close", `content-length: ${body.length}`, "", ""];
    await conn.write(new TextEncoder().encode(head.join("\r\n") + body));
    let text = "";
    const buf = new Uint8Array(16_384);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    return text;
  } finally {
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}

/** A run with `n` events written straight into the store (no upstream). */
async function seedRun(gw: TestGateway, id: string, n: number): Promise<void> {
  const now = new Date().toISOString();
  const summary: RunSummary = {
    id,
    graph: "hotel_o2c",
    dialect: "workflow",
    status: "running",
    createdAt: now,
    updatedAt: now,
    eventCount: 0,
    prompt: "A long run",
  };
  assert.ok(await gw.services.store.create(summary));
  const init = {
    type: "workflow_initialized",
    data: JSON.stringify({ graph: "hotel_o2c", steps: [], workflowId: id, ts: now }),
  };
  let written = 0;
  while (written < n) {
    const batch = [];
    for (let i = 0; i < 500 && written < n; i++, written++) {
      batch.push(
        written === 0 ? init : {
          type: "step_progress",
          data: JSON.stringify({ step: "reservation", note: `tick ${written + 1}`, ts: now }),
        },
      );
    }
    await gw.services.store.append(id, batch);
  }
}

describe("access", () => {
  let fake: FakeUpstream;
  before(async () => {
    fake = await startFakeUpstream({ script: "hotel" });
  });
  after(async () => {
    await fake.close();
  });

  describe("with GATEWAY_TOKEN set", () => {
    let gw: TestGateway;
    let runId: string;
    before(async () => {
      gw = await startGateway({
        WORKFLOW_SERVICE_URL: fake.url,
        GATEWAY_TOKEN: TOKEN,
        METRICS_TOKEN,
      });
      runId = `secret-${crypto.randomUUID()}`;
      await seedRun(gw, runId, 3);
    });
    after(async () => {
      await gw.close();
    });

    async function signIn(): Promise<string> {
      const res = await fetch(`${gw.url}/login`, {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: gw.url },
        body: new URLSearchParams({ token: TOKEN, next: `/runs/${runId}` }),
      });
      assert.equal(res.status, 303);
      assert.equal(res.headers.get("location"), `/runs/${runId}`);
      const cookie = res.headers.get("set-cookie") ?? "";
      assert.match(cookie, /^ws_session=[^;]+; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Strict$/);
      await res.body?.cancel();
      return cookie.split(";")[0];
    }

    it("sends a browser without a session to /login and answers 401 JSON otherwise", async () => {
      for (const path of ["/", "/runs", `/runs/${runId}`]) {
        const page = await fetch(`${gw.url}${path}`, { headers: HTML, redirect: "manual" });
        assert.equal(page.status, 303, path);
        assert.equal(page.headers.get("location"), `/login?next=${encodeURIComponent(path)}`);
        await page.body?.cancel();
        const api = await fetch(`${gw.url}${path}`);
        assert.equal(api.status, 401, path);
        assert.equal((await api.json()).error, "unauthorized");
      }
      const form = await fetch(`${gw.url}/login?next=%2Fruns`, { headers: HTML });
      assert.equal(form.status, 200);
      const html = await form.text();
      assert.match(html, /<form class="login-form" method="post" action="\/login">/);
      assert.ok(!html.includes("A long run"), "the sign-in page shows no run data");
    });

    it("signs in with the token; the cookie opens pages and /agui, and signs out", async () => {
      const cookie = await signIn();
      const page = await fetch(`${gw.url}/runs/${runId}`, { headers: { ...HTML, cookie } });
      assert.equal(page.status, 200);
      const html = await page.text();
      assert.match(html, /A long run/);
      assert.match(html, /Sign out/);
      const list = await fetch(`${gw.url}/agui/runs`, { headers: { cookie } });
      assert.equal(list.status, 200);
      assert.ok((await list.json()).runs.some((r: RunSummary) => r.id === runId));

      const out = await fetch(`${gw.url}/logout`, {
        method: "POST",
        redirect: "manual",
        headers: { cookie, origin: gw.url },
      });
      assert.equal(out.status, 303);
      assert.match(out.headers.get("set-cookie") ?? "", /^ws_session=; Path=\/; Max-Age=0;/);
      await out.body?.cancel();
    });

    it("refuses a cookie-authenticated write from another origin or without Origin", async () => {
      const cookie = await signIn();
      for (const origin of [undefined, "https://evil.example"]) {
        const res = await fetch(`${gw.url}/agui/runs/${runId}/abort`, {
          method: "POST",
          headers: { cookie, ...(origin ? { origin } : {}) },
        });
        // Another origin is refused by CORS first; no Origin at all by the CSRF check.
        assert.equal(res.status, 403);
        assert.match((await res.json()).error, /^(cross_site_request|origin_not_allowed)$/);
      }
      const same = await fetch(`${gw.url}/agui/runs/${runId}/abort`, {
        method: "POST",
        headers: { cookie, origin: gw.url },
      });
      assert.equal(same.status, 202, "the console's own abort is accepted");
      await same.body?.cancel();
    });

    it("refuses a wrong token, a forged or expired cookie, and sign-in from elsewhere", async () => {
      const wrong = await fetch(`${gw.url}/login`, {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: gw.url },
        body: new URLSearchParams({ token: "not-the-token-0123456789" }),
      });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.headers.get("set-cookie"), null);
      assert.match(await wrong.text(), /That is not the gateway token/);
      const cross = await fetch(`${gw.url}/login`, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          origin: "https://evil.example",
        },
        body: new URLSearchParams({ token: TOKEN }),
      });
      assert.equal(cross.status, 403);
      await cross.body?.cancel();
      const good = (await signIn()).split("=")[1];
      const [exp, mac] = good.split(".");
      const forged = [
        `ws_session=${Number(exp) + 1000}.${mac}`,
        `ws_session=${Date.now() - 1000}.${mac}`,
        `ws_session=${exp}.${mac.slice(0, -2)}AA`,
        "ws_session=garbage",
      ];
      for (const cookie of forged) {
        const res = await fetch(`${gw.url}/runs`, {
          headers: { ...HTML, cookie },
          redirect: "manual",
        });
        assert.equal(res.status, 303, cookie);
        await res.body?.cancel();
      }
    });

    it("keeps /metrics behind a token and shows strangers only /health's status", async () => {
      const anon = await fetch(`${gw.url}/metrics`);
      assert.equal(anon.status, 401);
      await anon.body?.cancel();
      for (const token of [TOKEN, METRICS_TOKEN]) {
        const ok = await fetch(`${gw.url}/metrics`, {
          headers: { authorization: `Bearer ${token}` },
        });
        assert.equal(ok.status, 200);
        assert.match(await ok.text(), /^# HELP/m);
      }
      const agui = await fetch(`${gw.url}/agui/runs`, {
        headers: { authorization: `Bearer ${METRICS_TOKEN}` },
      });
      assert.equal(agui.status, 401, "the metrics token opens only /metrics");
      await agui.body?.cancel();

      const health = await fetch(`${gw.url}/health`);
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: "ok" });
      const detailed = await fetch(`${gw.url}/health`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      const body = await detailed.json();
      assert.equal(body.workflow_service.reachable, true);
      assert.equal(typeof body.active_streams, "number");
    });
  });

  describe("/health of an unreachable service", () => {
    it("never shows the socket error, only what kind of failure it was", async () => {
      const dead = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = (dead.addr as Deno.NetAddr).port;
      dead.close();
      const gw = await startGateway({ WORKFLOW_SERVICE_URL: `http://127.0.0.1:${port}/svc` });
      try {
        const res = await fetch(`${gw.url}/health`);
        assert.equal(res.status, 503);
        const body = await res.json();
        assert.equal(body.workflow_service.error, "not reachable");
        assert.ok(gw.logs.some((l) => l.msg === "health: workflow service not reachable"));
      } finally {
        await gw.close();
      }
    });
  });

  describe("an upstream 500's details", () => {
    const SECRET = "/srv/workflows/internal_secret.py";
    it("never reach clients, the run log or the pages; the gateway's log keeps them", async () => {
      const failing = await startFakeUpstream();
      failing.setScript((w) =>
        w.json(500, {
          error: "internal",
          message: `KeyError at ${SECRET}`,
          stack: `Traceback (most recent call last):\n  File "${SECRET}", line 42`,
        })
      );
      const gw = await startGateway({ WORKFLOW_SERVICE_URL: failing.url });
      try {
        const res = await postJson(`${gw.url}/agui`, {
          graph_name: "hotel_o2c",
          initial_state: { prompt: "x" },
        });
        assert.equal(res.status, 502);
        const text = await res.text();
        assert.ok(!text.includes(SECRET), text);
        assert.deepEqual(JSON.parse(text), {
          error: "upstream_status",
          message: "The workflow service failed (status 500)",
        });

        // AG-UI records the failure in the run: RUN_ERROR, the log and the page stay generic.
        const runId = `leak-${crypto.randomUUID()}`;
        const agui = await postJson(`${gw.url}/agui`, {
          threadId: "t-leak",
          runId,
          messages: [{ id: "m1", role: "user", content: "x" }],
          forwardedProps: { graph_name: "hotel_o2c" },
        });
        assert.ok(!(await agui.text()).includes(SECRET));
        const run = await gw.services.store.get(runId);
        assert.equal(run?.error?.code, "upstream_status");
        const log = await gw.services.store.read(runId, 0);
        assert.ok(!JSON.stringify(log).includes(SECRET));
        assert.ok(!JSON.stringify(run).includes(SECRET));
        const page = await (await fetch(`${gw.url}/runs/${runId}`, { headers: HTML })).text();
        assert.ok(!page.includes(SECRET));
        assert.match(page, /The workflow service failed \(status 500\)/);
        assert.ok(
          gw.logs.some((l) =>
            l.msg === "upstream refused the run" && JSON.stringify(l).includes(SECRET)
          ),
          "the details are logged by the gateway",
        );
      } finally {
        await gw.close();
        await failing.close();
      }
    });
  });

  describe("Host allowlist (DNS rebinding)", () => {
    let gw: TestGateway;
    before(async () => {
      gw = await startGateway({ WORKFLOW_SERVICE_URL: fake.url });
    });
    after(async () => {
      await gw.close();
    });

    it("refuses a foreign Host without a token, even with a matching Origin", async () => {
      const id = `rebind-${crypto.randomUUID()}`;
      await seedRun(gw, id, 2);
      const list = await rawRequest(gw.port, [
        "GET /agui/runs HTTP/1.1",
        "host: evil.example",
        "origin: http://evil.example",
      ]);
      assert.match(list, /^HTTP\/1\.1 421 /);
      assert.match(list, /"error":"host_not_allowed"/);
      assert.ok(!list.includes(id));
      const abort = await rawRequest(gw.port, [
        `POST /agui/runs/${id}/abort HTTP/1.1`,
        "host: evil.example:80",
        "origin: http://evil.example",
      ]);
      assert.match(abort, /^HTTP\/1\.1 421 /);
      const page = await rawRequest(gw.port, ["GET /runs HTTP/1.1", "host: evil.example"]);
      assert.match(page, /^HTTP\/1\.1 421 /);
      assert.equal((await gw.services.store.get(id))?.status, "running", "nothing was aborted");
      const local = await rawRequest(gw.port, ["GET /agui/runs HTTP/1.1", "host: localhost"]);
      assert.match(local, /^HTTP\/1\.1 200 /);
    });

    it("answers the names of ALLOWED_HOSTS", async () => {
      const named = await startGateway({
        WORKFLOW_SERVICE_URL: fake.url,
        ALLOWED_HOSTS: "app.example, .internal.example",
      });
      try {
        for (
          const [host, status] of [
            ["app.example", 200],
            ["a.internal.example", 200],
            ["127.0.0.1", 421],
            ["evil.example", 421],
          ] as const
        ) {
          const res = await rawRequest(named.port, ["GET /agui/runs HTTP/1.1", `host: ${host}`]);
          assert.match(res, new RegExp(`^HTTP/1\\.1 ${status} `), host);
        }
      } finally {
        await named.close();
      }
    });
  });

  describe("a run's page", () => {
    let gw: TestGateway;
    before(async () => {
      gw = await startGateway({ WORKFLOW_SERVICE_URL: fake.url });
    });
    after(async () => {
      await gw.close();
    });

    it("shows the newest page of a long timeline with links to earlier pages", async () => {
      const id = `long-${crypto.randomUUID()}`;
      await seedRun(gw, id, 2_000);
      const res = await fetch(`${gw.url}/runs/${id}`, { headers: HTML });
      assert.equal(res.status, 200);
      const html = await res.text();
      const rows = [...html.matchAll(/<li [^>]*class="ev"/g)].length;
      assert.equal(rows, 100, "one page of events");
      assert.match(html, /Events 1901–2000 of 2000/);
      assert.match(html, new RegExp(`href="/runs/${id}\\?before=1901"`));
      assert.ok(!html.includes("tick 1900<"), "older events are not rendered");

      const older = await (await fetch(`${gw.url}/runs/${id}?before=1901`, { headers: HTML }))
        .text();
      assert.match(older, /Events 1801–1900 of 2000/);
      assert.match(older, new RegExp(`href="/runs/${id}"`), "a link back to the newest page");
      const first = await (await fetch(`${gw.url}/runs/${id}?before=101`, { headers: HTML }))
        .text();
      assert.match(first, /Events 1–100 of 2000/);
      assert.ok(!first.includes('?before=1"'), "no earlier page before the first");
    });

    it("renders a short run whole", async () => {
      const res = await postJson(`${gw.url}/agui`, {
        graph_name: "hotel_o2c",
        initial_state: { prompt: "Two nights" },
      });
      const id = res.headers.get("x-workflow-id")!;
      await res.body?.cancel();
      let run = await gw.services.store.get(id);
      for (let i = 0; i < 100 && run?.status === "running"; i++) {
        await new Promise((r) => setTimeout(r, 20));
        run = await gw.services.store.get(id);
      }
      const html = await (await fetch(`${gw.url}/runs/${id}`, { headers: HTML })).text();
      assert.match(html, new RegExp(`Events 1–${run!.eventCount} of ${run!.eventCount}`));
      assert.ok(!html.includes("Earlier events"));
    });
  });
});
