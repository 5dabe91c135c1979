/**
 * Resumable runs: the run log on Deno KV behind the gateway. Replay after `Last-Event-ID`,
 * idempotent start, approvals (also through a second gateway process on the same KV file),
 * run listing, big events, a client whose connection is cut again and again through a loopback
 * TCP proxy (checked on the wire too), RUN_TTL_HOURS reaching the store, and a gateway killed
 * mid-run.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type StreamEvent, streamRun } from "../../lib/client/stream_client.ts";
import { keys, type RunRecord } from "../../lib/runs/kv_codec.ts";
import {
  FAKE_TS,
  type FakeUpstream,
  type Script,
  startFakeUpstream,
} from "../fixtures/fake_upstream.ts";
import { postJson, relayToFake, startGateway, type TestGateway } from "../fixtures/gateway.ts";
import { spawnGateway } from "../fixtures/process.ts";
import { readSse, types } from "../fixtures/sse_reader.ts";
import { startTcpProxy } from "../fixtures/tcp_proxy.ts";

const BODY = { graph_name: "hotel_o2c", initial_state: { prompt: "Create a hotel reservation" } };

/** A long run: `n` steps with a pause between them, then a terminal event. */
function longRun(n: number, pauseMs: number): Script {
  return async (w, ctx) => {
    const base = { workflowId: ctx.request.thread_id, ts: FAKE_TS };
    w.frame("workflow_initialized", { ...base, graph: ctx.request.graph_name });
    for (let i = 0; i < n; i++) {
      if (w.cancelled) return;
      w.frame("step_started", { ...base, step: `s${i}` });
      await w.pause(pauseMs);
      w.frame("step_completed", { ...base, step: `s${i}`, result: { i } });
    }
    w.frame("workflow_complete", { ...base, status: "success", result: { steps: n } });
    w.close();
  };
}

describe("run log: replay, attach, approvals, listing", () => {
  let fake: FakeUpstream;
  let gw: TestGateway;
  relayToFake(
    { fake: { script: "complete" }, env: { HEARTBEAT_MS: "50" } },
    (p) => ({ fake, gw } = p),
  );

  it("replays after Last-Event-ID or ?after=, and closes a finished run", async () => {
    fake.setScript("complete");
    const res = await postJson(`${gw.url}/agui`, BODY);
    const runId = res.headers.get("x-workflow-id")!;
    const all = await readSse(res);
    assert.deepEqual(all.frames.map((f) => f.id), ["1", "2", "3", "4"]);

    const byHeader = await readSse(
      await fetch(`${gw.url}/agui/runs/${runId}/events`, { headers: { "Last-Event-ID": "2" } }),
    );
    assert.deepEqual(byHeader.frames.map((f) => f.id), ["3", "4"]);
    assert.equal(byHeader.ended, true);
    assert.deepEqual(byHeader.frames.map((f) => f.data), all.frames.slice(2).map((f) => f.data));

    const byQuery = await readSse(await fetch(`${gw.url}/agui/runs/${runId}/events?after=3`));
    assert.deepEqual(types(byQuery), ["workflow_complete"]);

    // Past the end of a finished run: 204, which stops an EventSource's reconnect loop.
    const past = await fetch(`${gw.url}/agui/runs/${runId}/events`, {
      headers: { "last-event-id": "4" },
    });
    assert.equal(past.status, 204);

    const unknown = await fetch(`${gw.url}/agui/runs/nope/events`);
    assert.equal(unknown.status, 404);
    assert.equal((await unknown.json()).error, "run_not_found");
    const bad = await fetch(`${gw.url}/agui/runs/${runId}/events`, {
      headers: { "last-event-id": "abc" },
    });
    assert.equal(bad.status, 400);
    await bad.body?.cancel();
  });

  it("attaches a repeated run_id to the same run and never calls /execute twice", async () => {
    fake.setScript(longRun(5, 5));
    const runId = `attach-${crypto.randomUUID()}`;
    const body = { ...BODY, run_id: runId };
    // Two concurrent starts and one later retry of the same id.
    const [a, b] = await Promise.all([
      postJson(`${gw.url}/agui`, body),
      postJson(`${gw.url}/agui`, body),
    ]);
    const [ra, rb] = await Promise.all([readSse(a), readSse(b)]);
    const retry = await readSse(await postJson(`${gw.url}/agui`, body, { "last-event-id": "3" }));
    assert.equal(fake.executeCalls.filter((c) => c.thread_id === runId).length, 1);
    assert.deepEqual(ra.frames, rb.frames);
    assert.equal(ra.frames.at(-1)!.event, "workflow_complete");
    assert.deepEqual(retry.frames, ra.frames.slice(3), "the retry honours Last-Event-ID");
  });

  it("refuses a reused run_id with another input (409 run_conflict naming it)", async () => {
    fake.setScript("hotel");
    const runId = `idem-${crypto.randomUUID()}`;
    const first = {
      graph_name: "hotel_o2c",
      run_id: runId,
      initial_state: { prompt: "Two nights for Ann", app_context: { nights: 2, guests: 1 } },
    };
    const gate = (r: { frames: { event: string }[] }) =>
      r.frames.some((f) => f.event === "approval_required");
    await readSse(await postJson(`${gw.url}/agui`, first), gate);
    const calls = fake.executeCalls.length;
    for (
      const [initial_state, differs] of [
        [{ ...first.initial_state, prompt: "Admit Bob" }, ["prompt"]],
        [{ ...first.initial_state, app_context: { nights: 3, guests: 1 } }, ["initial_state"]],
        [{ prompt: "Admit Bob" }, ["prompt", "initial_state"]],
      ] as const
    ) {
      const res = await postJson(`${gw.url}/agui`, { ...first, initial_state });
      assert.equal(res.status, 409);
      const body = await res.json();
      assert.equal(body.error, "run_conflict");
      assert.deepEqual(body.details.differs, differs);
      assert.ok(!JSON.stringify(body).includes("Ann"), "the first caller's input is not shown");
    }
    // The same input, keys in another order, is a retry: it attaches.
    const retry = await postJson(`${gw.url}/agui`, {
      run_id: runId,
      initial_state: { app_context: { guests: 1, nights: 2 }, prompt: "Two nights for Ann" },
      graph_name: "hotel_o2c",
    });
    assert.equal(retry.status, 200);
    assert.equal(types(await readSse(retry, gate))[0], "workflow_initialized");
    assert.equal(fake.executeCalls.length, calls, "no second /execute");
    const summary = await (await fetch(`${gw.url}/agui/runs/${runId}`)).json();
    assert.equal(summary.run.inputDigest, undefined, "the digest stays internal");
    await gw.services.gateway.abort(runId);
  });

  it("refuses decisions for steps that are not waiting (409) and bad ones (400/404)", async () => {
    fake.setScript("hotel");
    const res = await postJson(`${gw.url}/agui`, BODY);
    const runId = res.headers.get("x-workflow-id")!;
    const first = await readSse(res, (r) => r.frames.some((f) => f.event === "approval_required"));
    const gate = JSON.parse(first.frames.at(-1)!.data);

    const summary = await (await fetch(`${gw.url}/agui/runs/${runId}`)).json();
    assert.equal(summary.run.status, "waiting_approval");
    assert.equal(summary.run.pendingApproval.stepId, gate.stepId);
    assert.equal(summary.run.eventCount, first.frames.length);
    assert.equal(summary.run.relay, undefined, "internal lease not exposed");

    const wrong = await postJson(`${gw.url}/agui/runs/${runId}/approval`, {
      stepId: "not_the_gate",
      decision: "approve",
    });
    assert.equal(wrong.status, 409);
    assert.equal((await wrong.json()).error, "not_waiting");
    const badDecision = await postJson(`${gw.url}/agui/runs/${runId}/approval`, {
      stepId: gate.stepId,
      decision: "maybe",
    });
    assert.equal(badDecision.status, 400);
    await badDecision.body?.cancel();
    const noRun = await postJson(`${gw.url}/agui/runs/missing-run/approval`, {
      stepId: gate.stepId,
      decision: "approve",
    });
    assert.equal(noRun.status, 404);
    await noRun.body?.cancel();

    const reject = await postJson(`${gw.url}/agui/runs/${runId}/approval`, {
      stepId: gate.stepId,
      decision: "reject",
    });
    assert.equal(reject.status, 202);
    await reject.body?.cancel();
    const again = await postJson(`${gw.url}/agui/runs/${runId}/approval`, {
      stepId: gate.stepId,
      decision: "approve",
    });
    assert.equal(again.status, 409, "a decision is taken once");
    await again.body?.cancel();
    const rest = await readSse(
      await fetch(`${gw.url}/agui/runs/${runId}/events?after=${first.frames.length}`),
    );
    assert.equal(rest.frames[0].event, "approval_resolved");
    assert.equal(JSON.parse(rest.frames[0].data).decision, "reject");
    assert.equal(rest.frames.at(-1)!.event, "workflow_complete");
  });

  it("lists runs newest first, filtered and paginated", async () => {
    fake.setScript("complete");
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await postJson(`${gw.url}/agui`, { ...BODY, graph_name: "hotel_o2c" });
      ids.push(res.headers.get("x-workflow-id")!);
      await readSse(res);
    }
    const page1 = await (await fetch(`${gw.url}/agui/runs?limit=2&status=complete`)).json();
    assert.equal(page1.runs.length, 2);
    assert.deepEqual(page1.runs.map((r: { id: string }) => r.id), [ids[2], ids[1]]);
    assert.ok(page1.cursor);
    const page2 = await (await fetch(
      `${gw.url}/agui/runs?limit=2&status=complete&cursor=${encodeURIComponent(page1.cursor)}`,
    )).json();
    assert.equal(page2.runs[0].id, ids[0]);
    const none = await (await fetch(`${gw.url}/agui/runs?graph=hospital_admission`)).json();
    assert.equal(none.runs.length, 0);
    for (const q of ["status=bogus", "limit=0", "cursor=not-a-cursor"]) {
      const bad = await fetch(`${gw.url}/agui/runs?${q}`);
      assert.equal(bad.status, 400, q);
      assert.equal(typeof (await bad.json()).error, "string");
    }
  });

  it("keeps a 200 KiB event whole, live and on replay", async () => {
    const big = "x".repeat(200 * 1024);
    fake.setScript((w, ctx) => {
      const base = { workflowId: ctx.request.thread_id, ts: FAKE_TS };
      w.frame("workflow_initialized", { ...base, graph: "hotel_o2c" });
      w.frame("artifact", { ...base, name: "scan", mime: "text/plain", content: big });
      w.frame("workflow_complete", { ...base, status: "success", result: {} });
      w.close();
    });
    const res = await postJson(`${gw.url}/agui`, BODY);
    const runId = res.headers.get("x-workflow-id")!;
    const live = await readSse(res);
    assert.equal(JSON.parse(live.frames[1].data).content, big);
    const replay = await readSse(await fetch(`${gw.url}/agui/runs/${runId}/events?after=1`));
    assert.equal(JSON.parse(replay.frames[0].data).content, big);
  });
});

/** What one connection of the client carried, as seen on the wire. */
interface WireConnection {
  /** The `Last-Event-ID` the client sent (null on the first POST). */
  lastEventId: string | null;
  /** The `id:` of every complete frame the connection delivered, in order. */
  ids: number[];
}

/**
 * A fetch that records, per connection, the ids of the complete frames on the wire (a frame cut
 * in half by a drop does not count) before the client's own parser sees them, so a server that
 * replayed too much is caught even though the client drops repeats itself. The body is passed
 * through (not tee'd): the client cancelling it cancels the connection, as without the wrapper.
 */
function wireRecordingFetch(conns: WireConnection[]) {
  return async (input: string, init?: RequestInit): Promise<Response> => {
    const conn: WireConnection = {
      lastEventId: new Headers(init?.headers).get("last-event-id"),
      ids: [],
    };
    conns.push(conn);
    const res = await fetch(input, init);
    if (!res.body) return res;
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    const body = new ReadableStream<Uint8Array>({
      async pull(c) {
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await reader.read();
        } catch (err) {
          c.error(err);
          return;
        }
        if (r.done) return c.close();
        buf += dec.decode(r.value, { stream: true });
        let end: number;
        while ((end = buf.indexOf("\n\n")) >= 0) {
          const id = /^id: ?(\d+)$/m.exec(buf.slice(0, end))?.[1];
          if (id !== undefined) conn.ids.push(Number(id));
          buf = buf.slice(end + 2);
        }
        c.enqueue(r.value);
      },
      cancel: (reason) => reader.cancel(reason),
    });
    return new Response(body, { status: res.status, headers: res.headers });
  };
}

describe("a client behind a flaky network", () => {
  it("gets every event once, in order, through connections cut at random moments", async () => {
    const steps = 60;
    const fake = await startFakeUpstream({ script: longRun(steps, 10) });
    const gw = await startGateway({ WORKFLOW_SERVICE_URL: fake.url, HEARTBEAT_MS: "100" });
    const proxy = startTcpProxy(gw.port);
    // A seeded generator: random cut moments, the same in every run of the test.
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const seen: StreamEvent[] = [];
    const reconnects: number[] = [];
    const wire: WireConnection[] = [];
    try {
      const run = streamRun({
        baseUrl: proxy.url,
        body: BODY,
        heartbeatMs: 100,
        backoffMs: 10,
        maxRetries: 3,
        log: () => {},
        fetch: wireRecordingFetch(wire),
        onEvent: (ev) => {
          if (ev.type === "workflow_reconnecting") reconnects.push(Number(ev.data.attempt));
          else seen.push(ev);
        },
      });
      let cuts = 0;
      while (cuts < 4) {
        await new Promise((r) => setTimeout(r, 40 + rand() * 80));
        if (seen.at(-1)?.type === "workflow_complete") break;
        if (proxy.cutAll() > 0) cuts++;
      }
      const outcome = await run.done;
      assert.equal(outcome.end, "terminal");
      assert.ok(cuts >= 3, `the connection was cut ${cuts} times`);
      assert.ok(reconnects.length >= 3, "the client reconnected after each cut");
      const total = 2 * steps + 2;
      const ids = seen.map((e) => e.id);
      assert.deepEqual(ids, Array.from({ length: total }, (_, i) => i + 1), "complete, in order");
      assert.equal(seen.at(-1)!.type, "workflow_complete");
      assert.equal(fake.executeCalls.length, 1, "reconnects never start the workflow again");

      // On the wire: the server honoured every Last-Event-ID, so no id ever came twice.
      assert.ok(wire.length >= 4, `${wire.length} connections`);
      const onWire = wire.flatMap((c) => c.ids);
      assert.deepEqual(
        onWire,
        Array.from({ length: total }, (_, i) => i + 1),
        "no repeat on the wire",
      );
      // And each reconnect asked for what the connections before it had delivered.
      let delivered = 0;
      for (const [i, c] of wire.entries()) {
        // (A POST repeated before any answer sends none: it attaches from the start.)
        if (i > 0) assert.equal(c.lastEventId ?? "0", String(delivered), `connection ${i}`);
        delivered = c.ids.at(-1) ?? delivered;
      }
    } finally {
      await proxy.close();
      await gw.close();
      await fake.close();
    }
  });
});

describe("expiry", () => {
  it("writes runs with the deadline RUN_TTL_HOURS sets", async () => {
    const dir = await Deno.makeTempDir();
    const kvPath = `${dir}/runs.kv`;
    const fake = await startFakeUpstream({ script: "complete" });
    const gw = await startGateway({
      WORKFLOW_SERVICE_URL: fake.url,
      KV_PATH: kvPath,
      RUN_TTL_HOURS: "1",
    });
    const kv = await Deno.openKv(kvPath);
    try {
      const before = Date.now();
      const res = await postJson(`${gw.url}/agui`, { ...BODY, run_id: "ttl-one-hour" });
      const after = Date.now();
      await readSse(res);
      // The store keeps the run's deadline with its summary (every key of the run expires then).
      const rec = await kv.get<RunRecord>(keys.run("ttl-one-hour"));
      assert.ok(rec.value, "the run's record is in KV");
      const hour = 3_600_000;
      assert.ok(
        rec.value.exp >= before + hour && rec.value.exp <= after + hour,
        `expires ${rec.value.exp - before} ms after the start, not one hour`,
      );
    } finally {
      kv.close();
      await gw.close();
      await fake.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
});

describe("across processes on one KV file", () => {
  it("takes an approval on a second gateway process; the first one's subscriber sees it", async () => {
    const dir = await Deno.makeTempDir();
    const kvPath = `${dir}/runs.kv`;
    const fake = await startFakeUpstream({ script: "hotel" });
    const env = { WORKFLOW_SERVICE_URL: fake.url, KV_PATH: kvPath, HEARTBEAT_MS: "100" };
    const a = await startGateway(env);
    const b = await spawnGateway(env);
    try {
      const res = await postJson(`${a.url}/agui`, BODY);
      const runId = res.headers.get("x-workflow-id")!;
      let gate: { stepId: string } | undefined;
      let approved = false;
      const read = await readSse(res, (r) => {
        const g = r.frames.find((f) => f.event === "approval_required");
        if (g && !gate) {
          gate = JSON.parse(g.data);
          // Decide on the other process while this stream stays open here.
          postJson(`${b.url}/agui/runs/${runId}/approval`, {
            stepId: gate!.stepId,
            decision: "approve",
          })
            .then(async (r2) => {
              approved = r2.status === 202;
              await r2.body?.cancel();
            });
        }
        return r.frames.at(-1)?.event === "workflow_complete";
      }, 20_000);
      assert.ok(approved);
      const t = types(read);
      assert.equal(t.at(-1), "workflow_complete");
      assert.ok(t.indexOf("approval_resolved") > t.indexOf("approval_required"));
      assert.deepEqual(read.frames.map((f) => Number(f.id)), read.frames.map((_, i) => i + 1));
      assert.equal(fake.executeCalls.filter((c) => c.thread_id === runId).length, 2);
    } finally {
      b.kill("SIGTERM");
      await b.status;
      await a.close();
      await fake.close();
      await Deno.remove(dir, { recursive: true });
    }
  });

  it("tells a resuming client relay_lost when the gateway died mid-run; the log keeps what it relayed", async () => {
    const dir = await Deno.makeTempDir();
    const kvPath = `${dir}/runs.kv`;
    const fake = await startFakeUpstream({ script: "idle" });
    const env = {
      WORKFLOW_SERVICE_URL: fake.url,
      KV_PATH: kvPath,
      HEARTBEAT_MS: "100",
      RELAY_LEASE_MS: "600",
    };
    const victim = await spawnGateway(env);
    let survivor: TestGateway | undefined;
    try {
      const res = await postJson(`${victim.url}/agui`, BODY);
      const runId = res.headers.get("x-workflow-id")!;
      const before = await readSse(res, (r) => r.frames.length >= 1);
      victim.kill("SIGKILL");
      await victim.status;
      survivor = await startGateway(env);
      const resumed = await readSse(
        await fetch(`${survivor.url}/agui/runs/${runId}/events`),
        undefined,
        10_000,
      );
      assert.deepEqual(resumed.frames[0], before.frames[0], "the log holds what was relayed");
      assert.equal(resumed.frames.at(-1)!.event, "workflow_error");
      assert.equal(JSON.parse(resumed.frames.at(-1)!.data).code, "relay_lost");
      assert.equal(resumed.ended, true, "never left hanging");
      await fake.waitFor((f) => f.abortCalls.includes(runId));
    } finally {
      victim.kill();
      await survivor?.close();
      await fake.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
});
