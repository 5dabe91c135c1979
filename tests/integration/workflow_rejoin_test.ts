/**
 * The built-in workflow service's rejoin endpoint over real HTTP (Deno.serve on port 0):
 * `GET /runs/{thread_id}/stream` replays a thread's events after `Last-Event-ID` (or `?after=`)
 * and follows it live to its end; a waiting thread's stream ends at its gate; unknown threads are
 * 404; events dropped by the retention bound are 410; ids run 1, 2, … across the start and the
 * resume.
 */
import assert from "node:assert/strict";
import { createWorkflowService } from "../../lib/workflow_service/mod.ts";
import { assertUnbroken, eventsOf, readEvents, type WfEvent } from "../fixtures/workflow_sse.ts";

function serve(opts: Parameters<typeof createWorkflowService>[0]) {
  const service = createWorkflowService(opts);
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    (req) => service.handler(req),
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  const post = (path: string, body: unknown) =>
    fetch(`${url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  return {
    url,
    post,
    start: (id: string, graph = "hotel_o2c") =>
      post("/execute", {
        graph_name: graph,
        thread_id: id,
        initial_state: { prompt: "for Ann Lee" },
      }),
    approve: (id: string, stepId = "manager_approval", graph = "hotel_o2c") =>
      post("/execute", {
        graph_name: graph,
        thread_id: id,
        initial_state: {},
        resume: { stepId, decision: "approve" },
      }),
    stream: (id: string, init: { after?: number; lastEventId?: number } = {}) =>
      fetch(
        `${url}/runs/${id}/stream${init.after !== undefined ? `?after=${init.after}` : ""}`,
        init.lastEventId !== undefined
          ? { headers: { "last-event-id": String(init.lastEventId) } }
          : {},
      ),
    async close() {
      await service.close();
      await server.shutdown();
    },
  };
}

async function errorOf(res: Response, status: number, error: string) {
  const body = await res.json();
  assert.equal(res.status, status, JSON.stringify(body));
  assert.equal(body.error, error);
  assert.equal(typeof body.message, "string");
  return body;
}

Deno.test("rejoin: replay, live follow, gate, errors", async (t) => {
  const s = serve({ stepDelayMs: 0 });
  try {
    let first: WfEvent[] = [];
    let second: WfEvent[] = [];
    await t.step("a waiting thread replays up to its gate, then the stream ends", async () => {
      first = await readEvents(await s.start("rj-1"), "rj-1");
      assert.equal(first.at(-1)!.type, "approval_required");
      assertUnbroken(first);
      const replay = await readEvents(await s.stream("rj-1"), "rj-1");
      assert.deepEqual(replay, first);
      const tail = await readEvents(await s.stream("rj-1", { lastEventId: 3 }), "rj-1");
      assert.deepEqual(tail, first.slice(3));
    });

    await t.step("after the resume: Last-Event-ID and ?after= replay to the end", async () => {
      second = await readEvents(await s.approve("rj-1"), "rj-1");
      assert.equal(second.at(-1)!.type, "workflow_complete");
      const all = [...first, ...second];
      assertUnbroken(all);
      const n = first.length - 2;
      const byHeader = await readEvents(await s.stream("rj-1", { lastEventId: n }), "rj-1");
      assert.deepEqual(byHeader, all.slice(n));
      const byQuery = await readEvents(await s.stream("rj-1", { after: n }), "rj-1");
      assert.deepEqual(byQuery, all.slice(n));
      // After the terminal event there is nothing left: an empty stream that ends.
      assert.deepEqual(await readEvents(await s.stream("rj-1", { after: all.length })), []);
    });

    await t.step("unknown thread 404, bad ids 400, POST 405", async () => {
      await errorOf(await s.stream("never-was"), 404, "unknown_thread");
      await errorOf(await fetch(`${s.url}/runs/rj-1/stream?after=x`), 400, "bad_request");
      await errorOf(await s.stream("rj-1", { after: 10_000 }), 400, "bad_request");
      await errorOf(await fetch(`${s.url}/runs/bad%20id/stream`), 400, "bad_request");
      await errorOf(
        await fetch(`${s.url}/runs/rj-1/stream`, { method: "POST" }),
        405,
        "method_not_allowed",
      );
    });
  } finally {
    await s.close();
  }
});

Deno.test("rejoin: a live thread is followed to its end, whoever started it left", async () => {
  const s = serve({ stepDelayMs: 30 });
  try {
    const first = await readEvents(await s.start("live-1"), "live-1");
    const res = await s.approve("live-1");
    // The caller that resumed reads one event and leaves; the run goes on.
    const it = eventsOf(res, "live-1");
    const resolved = (await it.next()).value as WfEvent;
    assert.equal(resolved.type, "approval_resolved");
    await it.return(undefined);
    // Joined while the next steps run: everything after the decision, live, to the end.
    const rest = await readEvents(await s.stream("live-1", { lastEventId: resolved.id }), "live-1");
    assert.equal(rest.at(-1)!.type, "workflow_complete");
    assert.ok(rest.some((e) => e.type === "step_started"));
    assertUnbroken([...first, resolved, ...rest]);
  } finally {
    await s.close();
  }
});

Deno.test("rejoin: two followers of one running thread get the same events", async () => {
  const s = serve({ stepDelayMs: 20 });
  try {
    const a = readEvents(await s.start("two-1", "purchase_order"), "two-1");
    const b = readEvents(await s.stream("two-1"), "two-1");
    const [ea, eb] = await Promise.all([a, b]);
    assert.deepEqual(eb, ea);
    assert.equal(ea.at(-1)!.type, "approval_required");
  } finally {
    await s.close();
  }
});

Deno.test("rejoin: only WORKFLOW_EVENT_RETENTION events are kept; older ids are 410", async () => {
  const s = serve({ stepDelayMs: 0, retention: 5 });
  /** The thread's last event, read back through the endpoint (the 400 names the last id). */
  const tail = async (id: string): Promise<WfEvent | undefined> => {
    const probe = await s.stream(id, { after: 1_000_000 });
    const last = (await errorOf(probe, 400, "bad_request")).details.last_id as number;
    const res = await s.stream(id, { after: last - 1 });
    // The run may have moved past the bound since the probe: look again later.
    if (res.status === 410) return void await res.body?.cancel();
    return (await readEvents(res, id))[0];
  };
  const settle = async (id: string, type: string) => {
    for (let i = 0; i < 400; i++) {
      const ev = await tail(id);
      if (ev?.type === type) return ev;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error(`thread ${id} never reached ${type}`);
  };
  try {
    // With a bound this small the answers themselves may fall behind and end early (a gap is
    // never skipped); the run goes on regardless.
    await (await s.start("ret-1")).body?.cancel();
    await settle("ret-1", "approval_required");
    await (await s.approve("ret-1")).body?.cancel();
    const done = await settle("ret-1", "workflow_complete");
    const last = done.id;
    assert.ok(last > 10);
    const kept = await readEvents(await s.stream("ret-1", { after: last - 5 }), "ret-1");
    assertUnbroken(kept, last - 4);
    assert.equal(kept.at(-1)!.type, "workflow_complete");
    const body = await errorOf(await s.stream("ret-1", { after: last - 6 }), 410, "events_expired");
    assert.deepEqual(body.details, { first_id: last - 4, last_id: last });
    await errorOf(await s.stream("ret-1"), 410, "events_expired");
  } finally {
    await s.close();
  }
});
