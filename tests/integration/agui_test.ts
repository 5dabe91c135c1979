/**
 * The AG-UI dialect end to end: the real `HttpAgent` of `@ag-ui/client` 1.0.0 and of 0.0.59 (the
 * version CopilotKit pins) drive a whole `hotel_o2c` run on the built-in LangGraph service through
 * the gateway, across the approval interrupt and the resume; every event on the wire is checked
 * against both versions' schemas. Upstream faults become RUN_ERROR; bad input is a 400. Every
 * read is bounded: a stream that stays open where it should end fails the test, never hangs it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EventSchemas as schemas10 } from "@ag-ui/core/schemas";
import { EventSchemas as schemas0059 } from "@ag-ui/core-0.0.59";
import { HttpAgent as HttpAgent10 } from "@ag-ui/client";
import { HttpAgent as HttpAgent0059 } from "@ag-ui/client-0.0.59";
import { decodeInterruptId } from "../../lib/gateway/dialects/agui.ts";
import type { FakeUpstream } from "../fixtures/fake_upstream.ts";
import { postJson, relayToFake, type TestGateway, withGateway } from "../fixtures/gateway.ts";
import { readSse, type SseRead, types } from "../fixtures/sse_reader.ts";
import { poll } from "../fixtures/within.ts";

/** How long any one read or client run may take before the test fails. */
const BOUND_MS = 10_000;

/** `p`, or a rejection naming `what` once {@link BOUND_MS} pass. */
async function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no end within ${BOUND_MS} ms`)), BOUND_MS);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

interface AgentUnderTest {
  state: Record<string, unknown>;
  pendingInterrupts: { id: string; message?: string }[];
  runAgent(params: Record<string, unknown>): Promise<unknown>;
}

type AnyEvent = Record<string, unknown> & { type: string };

/**
 * A fetch that records every SSE body it passes on, split into AG-UI events; `settled()` waits
 * (bounded) until every recorded body has been read to its end. `onResponse` sees each response
 * as soon as its headers arrive.
 */
function teeFetch(onResponse?: (res: Response, index: number) => void) {
  const streams: AnyEvent[][] = [];
  const raws: string[] = [];
  const reading: Promise<void>[] = [];
  const fetchFn = async (url: string, init: RequestInit) => {
    const res = await fetch(url, init);
    const [a, b] = res.body!.tee();
    const events: AnyEvent[] = [];
    streams.push(events);
    const idx = raws.push("") - 1;
    reading.push((async () => {
      const text = await new Response(b).text();
      raws[idx] = text;
      for (const block of text.split("\n\n")) {
        const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6));
        if (data.length) events.push(JSON.parse(data.join("\n")));
      }
    })());
    onResponse?.(res, idx);
    return new Response(a, { status: res.status, headers: res.headers });
  };
  const settled = () => within(Promise.all(reading), "reading the recorded streams");
  return { fetchFn, streams, raws, settled };
}

/** The AG-UI events of a read (every frame is `data:` JSON). */
function aguiEvents(read: SseRead): AnyEvent[] {
  return read.frames.map((f) => JSON.parse(f.data) as AnyEvent);
}

/** Reads an AG-UI response to its end (bounded); fails when the server does not close it. */
async function readAgui(res: Response): Promise<AnyEvent[]> {
  assert.equal(res.status, 200);
  const read = await readSse(res, undefined, BOUND_MS);
  assert.ok(read.ended, "the server ended the stream");
  return aguiEvents(read);
}

/** Polls the run's summary (bounded) until `ok` holds; returns it. */
async function summaryWhen(
  gw: TestGateway,
  runId: string,
  ok: (run: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  const run = await poll(
    async () => {
      const s = await (await fetch(`${gw.url}/agui/runs/${runId}`)).json();
      return s.run && ok(s.run) ? s.run as Record<string, unknown> : undefined;
    },
    500,
    20,
  );
  if (!run) throw new Error(`run ${runId} never reached the expected state`);
  return run;
}

async function expectJsonError(res: Response, status: number, code: string) {
  assert.equal(res.status, status);
  assert.match(res.headers.get("content-type") ?? "", /json/);
  const body = await res.json();
  assert.equal(body.error, code);
  assert.equal(typeof body.message, "string");
  return body;
}

const HOTEL_PROMPT = "Create a hotel reservation for John Doe";

function assertNoNull(value: unknown, path = "$"): void {
  assert.notEqual(value, null, `null at ${path}`);
  if (Array.isArray(value)) value.forEach((v, i) => assertNoNull(v, `${path}[${i}]`));
  else if (typeof value === "object" && value) {
    for (const [k, v] of Object.entries(value)) assertNoNull(v, `${path}.${k}`);
  }
}

/** Both schema versions accept every event, nothing is null, and the stream is well ordered. */
function checkStream(events: AnyEvent[]): void {
  assert.ok(events.length > 0);
  assert.equal(events[0].type, "RUN_STARTED");
  const terminals = events.filter((e) => e.type === "RUN_FINISHED" || e.type === "RUN_ERROR");
  assert.equal(terminals.length, 1, "exactly one terminal");
  assert.equal(terminals[0], events.at(-1), "nothing after the terminal");
  const open = new Set<string>();
  for (const ev of events) {
    schemas10.parse(ev);
    schemas0059.parse(ev);
    assertNoNull(ev);
    if (ev.type === "STEP_STARTED") open.add(String(ev.stepName));
    if (ev.type === "STEP_FINISHED") {
      assert.ok(open.delete(String(ev.stepName)), "finish without start");
    }
    if (ev.type === "RUN_FINISHED") assert.equal(open.size, 0, "RUN_FINISHED with an open step");
  }
}

const CLIENTS = [
  { name: "@ag-ui/client 1.0.0", make: (o: object) => new HttpAgent10(o as never) },
  { name: "@ag-ui/client 0.0.59", make: (o: object) => new HttpAgent0059(o as never) },
];

describe("AG-UI dialect with the built-in LangGraph service", () => {
  let gw: TestGateway;
  // Not the config's default graph, so a run that names none shows which one it got.
  withGateway({ HEARTBEAT_MS: "1000", DEFAULT_GRAPH: "purchase_order" }, (g) => (gw = g));

  for (const client of CLIENTS) {
    it(`${client.name} runs hotel_o2c through the interrupt and the resume`, async () => {
      const { fetchFn, streams, raws, settled } = teeFetch();
      const agent = client.make({
        url: `${gw.url}/agui`,
        fetch: fetchFn,
        threadId: `thread-${crypto.randomUUID()}`,
        initialMessages: [{
          id: "m1",
          role: "user",
          content: "Create a hotel reservation for John Doe",
        }],
      }) as unknown as AgentUnderTest;
      const runId = crypto.randomUUID();
      await within(
        agent.runAgent({ runId, forwardedProps: { graph_name: "hotel_o2c" } }),
        "the first run",
      );
      assert.equal(agent.pendingInterrupts.length, 1, "the run stopped at the approval gate");
      const interrupt = agent.pendingInterrupts[0];
      assert.equal(decodeInterruptId(interrupt.id)?.runId, runId);
      const summary = await (await fetch(`${gw.url}/agui/runs/${runId}`)).json();
      assert.equal(summary.run.status, "waiting_approval");
      assert.equal(summary.run.dialect, "agui");

      await within(
        agent.runAgent({
          resume: [{
            interruptId: interrupt.id,
            status: "resolved",
            payload: { decision: "approve" },
          }],
        }),
        "the resumed run",
      );
      assert.deepEqual(agent.pendingInterrupts, []);
      // The client's state is the gateway's, snapshot plus deltas, across both AG-UI runs.
      const state = agent.state as {
        graph?: string;
        status?: string;
        steps?: Record<string, { status: string }>;
        approvals?: Record<string, { decision: string }>;
        pendingApproval?: unknown;
      };
      assert.equal(state.graph, "hotel_o2c");
      assert.equal(state.status, "complete");
      assert.equal(state.steps?.reservation?.status, "done");
      assert.equal(state.steps?.payment?.status, "done");
      assert.equal(state.approvals?.manager_approval?.decision, "approve");
      assert.equal(state.pendingApproval, undefined);
      await settled();
      assert.equal(streams.length, 2);
      for (const s of streams) checkStream(s);
      for (const raw of raws) assert.ok(!raw.includes("\r"), "LF only");
      const first = streams[0];
      const outcome = first.at(-1)!.outcome as {
        type: string;
        interrupts: { id: string; reason: string; message: string }[];
      };
      assert.equal(outcome.type, "interrupt");
      assert.equal(outcome.interrupts.length, 1);
      assert.equal(outcome.interrupts[0].id, interrupt.id);
      assert.equal(outcome.interrupts[0].reason, "approval");
      assert.match(outcome.interrupts[0].message, /John Doe/);
      assert.ok(first.some((e) => e.type === "CUSTOM" && e.name === "on_interrupt"));
      const second = streams[1];
      assert.equal(second.at(-1)!.type, "RUN_FINISHED");
      assert.ok(
        second.some((e) =>
          e.type === "CUSTOM" && e.name === "artifact" &&
          (e.value as { name?: string }).name === "invoice"
        ),
        "the invoice artifact reaches the client",
      );
      const done = await (await fetch(`${gw.url}/agui/runs/${runId}`)).json();
      assert.equal(done.run.status, "complete");

      // The same runId again, without a resume, attaches to the finished run: it must end as
      // the run did, not on the interrupt decided long ago.
      const tee2 = teeFetch();
      const again = client.make({
        url: `${gw.url}/agui`,
        fetch: tee2.fetchFn,
        threadId: `thread-${crypto.randomUUID()}`,
      }) as unknown as AgentUnderTest;
      await within(again.runAgent({ runId }), "the attach to the finished run");
      await tee2.settled();
      assert.deepEqual(again.pendingInterrupts, []);
      assert.equal(again.state.status, "complete");
      const attach = tee2.streams[0];
      checkStream(attach);
      assert.equal(attach.at(-1)!.type, "RUN_FINISHED");
      assert.equal(attach.at(-1)!.outcome, undefined);
      assert.ok(!attach.some((e) => e.type === "CUSTOM" && e.name === "on_interrupt"));

      // Same for the events endpoint with no Last-Event-ID.
      const replay = await readAgui(await fetch(`${gw.url}/agui/runs/${runId}/events`));
      checkStream(replay);
      assert.equal(replay.at(-1)!.type, "RUN_FINISHED");
      assert.equal(replay.at(-1)!.outcome, undefined);
      assert.ok(!replay.some((e) => e.type === "CUSTOM" && e.name === "on_interrupt"));
      assert.deepEqual(replay.at(-1)!.result, attach.at(-1)!.result);
    });
  }

  it("takes CopilotKit's legacy resume (same runId, forwardedProps.command.resume) as a resume", async () => {
    const runId = crypto.randomUUID();
    const start = await postJson(`${gw.url}/agui`, {
      threadId: "t-legacy",
      runId,
      messages: [{ id: "m1", role: "user", content: "Admit patient Jane Roe, chest pain" }],
      forwardedProps: { graph_name: "hospital_admission" },
    });
    const first = await readAgui(start);
    assert.equal((first.at(-1)!.outcome as { type: string }).type, "interrupt");
    const again = await postJson(`${gw.url}/agui`, {
      threadId: "t-legacy",
      runId,
      messages: [],
      forwardedProps: { command: { resume: { decision: "reject", comment: "no beds" } } },
    });
    checkStream(await readAgui(again));
    const summary = await (await fetch(`${gw.url}/agui/runs/${runId}`)).json();
    assert.equal(summary.run.status, "rejected");
  });

  it("serves an AG-UI run's events endpoint in AG-UI, resumable after Last-Event-ID", async () => {
    const runId = crypto.randomUUID();
    const start = await postJson(`${gw.url}/agui`, {
      threadId: "t-events",
      runId,
      messages: [{ id: "m1", role: "user", content: "Create a hotel reservation for John Doe" }],
      forwardedProps: { graph_name: "hotel_o2c" },
    });
    await start.body?.cancel();
    // A run paused at its gate keeps the stream open (heartbeats, then the continuation as a new
    // AG-UI run once decided): read up to the interrupt and check the server did not end it.
    const interrupted = (r: SseRead) => r.frames.some((f) => f.data.includes('"interrupt"'));
    const parse = async (res: Response) => {
      assert.equal(res.status, 200);
      const read = await readSse(res, interrupted, BOUND_MS);
      assert.ok(!read.ended, "the stream stays open while the run waits");
      assert.deepEqual(read.retries, [2000], "retry: is sent");
      return read.frames.map((f) => ({ id: f.id, event: JSON.parse(f.data) as AnyEvent }));
    };
    // Wait until the run reached its gate, then read it whole in its own dialect.
    await summaryWhen(gw, runId, (r) => r.status === "waiting_approval");
    const whole = await parse(await fetch(`${gw.url}/agui/runs/${runId}/events`));
    checkStream(whole.map((f) => f.event));
    assert.equal(whole[0].event.threadId, "t-events", "the run's AG-UI thread is kept");
    assert.equal((whole.at(-1)!.event.outcome as { type: string }).type, "interrupt");
    const ids = whole.map((f) => f.id).filter(Boolean).map(Number);
    assert.ok(ids.length > 3 && ids.every((id, i) => i === 0 || id > ids[i - 1]));

    // Resuming after a log event: a new AG-UI run that starts from the state so far.
    const after = ids[2];
    const resumed = await parse(
      await fetch(`${gw.url}/agui/runs/${runId}/events`, {
        headers: { "last-event-id": String(after) },
      }),
    );
    checkStream(resumed.map((f) => f.event));
    assert.deepEqual(resumed.slice(0, 2).map((f) => f.event.type), [
      "RUN_STARTED",
      "STATE_SNAPSHOT",
    ]);
    assert.ok(resumed.every((f) => f.id === undefined || Number(f.id) > after));

    // A client that holds everything up to the gate the run still waits on gets that interrupt
    // as a whole AG-UI run at once, not only heartbeats until someone decides.
    const gateSeq = ids.at(-1)!;
    const atGate = await parse(
      await fetch(`${gw.url}/agui/runs/${runId}/events`, {
        headers: { "last-event-id": String(gateSeq) },
      }),
    );
    const atGateEvents = atGate.map((f) => f.event);
    checkStream(atGateEvents);
    assert.deepEqual(atGateEvents.map((e) => e.type), [
      "RUN_STARTED",
      "STATE_SNAPSHOT",
      "CUSTOM",
      "RUN_FINISHED",
    ]);
    assert.equal(atGateEvents[2].name, "on_interrupt");
    assert.deepEqual(atGateEvents[3].outcome, whole.at(-1)!.event.outcome);
    assert.equal((atGateEvents[1].snapshot as { status: string }).status, "waiting_approval");

    // The workflow dialect on request.
    // The workflow dialect on request (a paused run stays open there, so read up to the gate).
    const wf = await readSse(
      await fetch(`${gw.url}/agui/runs/${runId}/events?dialect=workflow`),
      (r) => r.frames.some((f) => f.event === "approval_required"),
    );
    assert.equal(types(wf)[0], "workflow_initialized");
    assert.equal(wf.frames.at(-1)!.event, "approval_required");
  });

  it("replays a resume that repeats the recorded decision and refuses one that contradicts it", async () => {
    const runId = crypto.randomUUID();
    const first = await readAgui(
      await postJson(`${gw.url}/agui`, {
        threadId: "t-conflict",
        runId,
        messages: [{ id: "m1", role: "user", content: HOTEL_PROMPT }],
        forwardedProps: { graph_name: "hotel_o2c" },
      }),
    );
    const [interrupt] = (first.at(-1)!.outcome as { interrupts: { id: string }[] }).interrupts;
    const resume = (payload: unknown) =>
      postJson(`${gw.url}/agui`, {
        threadId: "t-conflict",
        runId: crypto.randomUUID(),
        messages: [],
        resume: [{ interruptId: interrupt.id, status: "resolved", payload }],
      });
    const rejected = await readAgui(await resume({ decision: "reject" }));
    checkStream(rejected);
    assert.equal(rejected.at(-1)!.type, "RUN_FINISHED");
    assert.equal((await summaryWhen(gw, runId, () => true)).status, "rejected");

    // A retry of the same decision: its outcome again.
    const retry = await readAgui(await resume({ decision: "reject" }));
    checkStream(retry);
    assert.deepEqual(retry.at(-1)!.result, rejected.at(-1)!.result);

    // Another decision on the decided gate is a conflict, not a replay of the first one's outcome.
    const body = await expectJsonError(
      await resume({ decision: "approve" }),
      409,
      "decision_conflict",
    );
    assert.equal(body.details.decision, "reject");
    assert.equal(gw.services.streams.reserved, 0, "a refused request gives its stream slot back");
    assert.equal((await summaryWhen(gw, runId, () => true)).status, "rejected");
  });

  it("judges a resume that loses the race to record its decision like a retry", async () => {
    const gateway = gw.services.gateway;
    const store = gw.services.store;
    const update = store.update;
    for (
      const [winner, mine, status] of [["reject", "approve", 409], ["approve", "approve", 200]]
    ) {
      const runId = crypto.randomUUID();
      const first = await readAgui(
        await postJson(`${gw.url}/agui`, {
          threadId: "t-lost",
          runId,
          messages: [{ id: "m1", role: "user", content: HOTEL_PROMPT }],
          forwardedProps: { graph_name: "hotel_o2c" },
        }),
      );
      const [interrupt] = (first.at(-1)!.outcome as { interrupts: { id: string }[] }).interrupts;
      // Another resume records its decision between this one's check and its own claim of the
      // gate (the compare-and-set on the run's summary).
      store.update = async (id, patch, opts) => {
        store.update = update;
        const run = await store.get(id);
        const stepId = run!.pendingApproval!.stepId;
        await gateway.approve(id, { stepId, decision: winner as "approve" });
        return update.call(store, id, patch, opts);
      };
      try {
        const res = await postJson(`${gw.url}/agui`, {
          threadId: "t-lost",
          runId: crypto.randomUUID(),
          messages: [],
          resume: [{ interruptId: interrupt.id, status: "resolved", payload: { decision: mine } }],
        });
        if (status === 200) checkStream(await readAgui(res));
        else await expectJsonError(res, 409, "decision_conflict");
      } finally {
        store.update = update;
      }
    }
  });

  it("takes one of concurrent resumes that disagree; the others replay it or get 409", async () => {
    const runId = crypto.randomUUID();
    const first = await readAgui(
      await postJson(`${gw.url}/agui`, {
        threadId: "t-race",
        runId,
        messages: [{ id: "m1", role: "user", content: HOTEL_PROMPT }],
        forwardedProps: { graph_name: "hotel_o2c" },
      }),
    );
    const [interrupt] = (first.at(-1)!.outcome as { interrupts: { id: string }[] }).interrupts;
    const decisions = ["approve", "reject", "approve", "reject"];
    const answers = await Promise.all(decisions.map((decision) =>
      postJson(`${gw.url}/agui`, {
        threadId: "t-race",
        runId: crypto.randomUUID(),
        messages: [],
        resume: [{ interruptId: interrupt.id, status: "resolved", payload: { decision } }],
      })
    ));
    const log = await gw.services.store.read(runId, 0);
    const taken = log.filter((e) => e.type === "approval_resolved").map((e) => JSON.parse(e.data));
    assert.equal(taken.length, 1, "one decision recorded");
    for (const [i, res] of answers.entries()) {
      if (decisions[i] === taken[0].decision) checkStream(await readAgui(res));
      else await expectJsonError(res, 409, "decision_conflict");
    }
  });

  it("starts DEFAULT_GRAPH with the last user message when forwardedProps names no graph", async () => {
    const messages = [
      { id: "m1", role: "user", content: "Order 2 chairs" },
      { id: "m2", role: "assistant", content: "Anything else?" },
      {
        id: "m3",
        role: "user",
        content: "Order 20 laptops from Acme Corp at $1,200 each for Engineering",
      },
    ];
    const none = crypto.randomUUID();
    checkStream(
      await readAgui(await postJson(`${gw.url}/agui`, { threadId: "t-d", runId: none, messages })),
    );
    // null is absent, like a missing forwardedProps.
    const nulls = crypto.randomUUID();
    checkStream(
      await readAgui(
        await postJson(`${gw.url}/agui`, {
          threadId: "t-d",
          runId: nulls,
          messages,
          forwardedProps: { graph_name: null, initial_state: null },
        }),
      ),
    );
    for (const id of [none, nulls]) {
      const run = await summaryWhen(gw, id, () => true);
      assert.equal(run.graph, "purchase_order");
      assert.equal(run.prompt, messages[2].content);
    }
  });

  it("refuses to attach to an existing run with another graph (409 run_conflict), in both dialects", async () => {
    const runId = crypto.randomUUID();
    const body = {
      threadId: "t-graph",
      runId,
      messages: [{ id: "m1", role: "user", content: HOTEL_PROMPT }],
      forwardedProps: { graph_name: "hotel_o2c" },
    };
    await readAgui(await postJson(`${gw.url}/agui`, body));
    await expectJsonError(
      await postJson(`${gw.url}/agui`, {
        ...body,
        forwardedProps: { graph_name: "purchase_order" },
      }),
      409,
      "run_conflict",
    );
    // Another prompt under the same runId is another request, not an attach.
    const other = await postJson(`${gw.url}/agui`, {
      ...body,
      messages: [{ id: "m1", role: "user", content: "Order 20 laptops for Engineering" }],
    });
    assert.equal(other.status, 409);
    assert.deepEqual((await other.json()).details.differs, ["prompt"]);
    // The same graph, or none named, or no input at all (a client watching), still attaches.
    checkStream(await readAgui(await postJson(`${gw.url}/agui`, body)));
    checkStream(await readAgui(await postJson(`${gw.url}/agui`, { ...body, messages: [] })));
    checkStream(
      await readAgui(await postJson(`${gw.url}/agui`, { ...body, forwardedProps: {} })),
    );

    const wfId = `wf-${crypto.randomUUID()}`;
    const wfBody = {
      graph_name: "hotel_o2c",
      initial_state: { prompt: HOTEL_PROMPT },
      run_id: wfId,
    };
    const gate = (r: SseRead) => r.frames.some((f) => f.event === "approval_required");
    await readSse(await postJson(`${gw.url}/agui`, wfBody), gate, BOUND_MS);
    await expectJsonError(
      await postJson(`${gw.url}/agui`, { ...wfBody, graph_name: "purchase_order" }),
      409,
      "run_conflict",
    );
    const attached = await readSse(await postJson(`${gw.url}/agui`, wfBody), gate, BOUND_MS);
    assert.equal(types(attached)[0], "workflow_initialized");
    assert.equal(gw.services.streams.reserved, 0, "a refused request gives its stream slot back");
    await gw.services.gateway.abort(wfId);
  });

  it("answers a bad RunAgentInput with 400 JSON before streaming", async () => {
    for (
      const body of [{ threadId: 5, runId: "r", messages: [] }, { runId: "bad id!", messages: [] }]
    ) {
      const res = await postJson(`${gw.url}/agui`, body);
      assert.equal(res.status, 400);
      assert.match(res.headers.get("content-type")!, /json/);
      assert.equal(typeof (await res.json()).message, "string");
    }
  });
});

describe("AG-UI dialect: aborting a run", () => {
  let gw: TestGateway;
  // Slow steps, so the run is still going when the abort arrives.
  withGateway({ WORKFLOW_STEP_DELAY_MS: "300" }, (g) => (gw = g));

  for (const client of CLIENTS) {
    it(`${client.name}: POST /agui/runs/:id/abort mid-run ends the AG-UI run in RUN_ERROR aborted`, async () => {
      const runId = crypto.randomUUID();
      let aborted: Promise<Response> | undefined;
      // The abort goes out as soon as the run's stream answers: the run has started by then.
      const { fetchFn, streams, settled } = teeFetch(() => {
        aborted ??= fetch(`${gw.url}/agui/runs/${runId}/abort`, { method: "POST" });
      });
      const agent = client.make({
        url: `${gw.url}/agui`,
        fetch: fetchFn,
        threadId: `thread-${crypto.randomUUID()}`,
        initialMessages: [{ id: "m1", role: "user", content: HOTEL_PROMPT }],
      }) as unknown as AgentUnderTest;
      // RUN_ERROR may reject runAgent (client versions differ); the stream is what is checked.
      await within(agent.runAgent({ runId }).catch(() => {}), "the aborted run");
      await settled();
      const res = await within(aborted!, "the abort");
      assert.equal(res.status, 202);
      await res.body?.cancel();
      assert.equal(streams.length, 1);
      checkStream(streams[0]);
      const last = streams[0].at(-1)!;
      assert.equal(last.type, "RUN_ERROR");
      assert.equal(last.code, "aborted");
      assert.deepEqual(agent.pendingInterrupts, []);
      assert.equal((await summaryWhen(gw, runId, () => true)).status, "aborted");
    });
  }
});

describe("AG-UI dialect with a failing upstream", () => {
  let fake: FakeUpstream;
  let gw: TestGateway;
  relayToFake({}, (p) => ({ fake, gw } = p));

  for (
    const [script, code] of [["error500", "upstream_status"], ["early_close", "upstream_ended"]]
  ) {
    it(`ends in RUN_ERROR (${code}) when the upstream ${script === "error500" ? "fails" : "is truncated"}`, async () => {
      fake.setScript(script as "error500");
      const res = await postJson(`${gw.url}/agui`, {
        threadId: "t",
        runId: crypto.randomUUID(),
        messages: [],
        forwardedProps: { graph_name: "hotel_o2c" },
      });
      const events = await readAgui(res);
      checkStream(events);
      assert.equal(events.at(-1)!.type, "RUN_ERROR");
      assert.equal(events.at(-1)!.code, code);
    });
  }
});
