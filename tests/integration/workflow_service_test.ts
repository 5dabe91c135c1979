/**
 * The built-in workflow service over real HTTP (Deno.serve on port 0), for every graph: the
 * approve and reject paths, abort mid-run and while waiting, a failing step, and the contract's
 * error answers. Every event must pass `checkEvent`, carry the thread id, and have an SSE id
 * strictly greater than the one before it, across the execute and the resume.
 */
import assert from "node:assert/strict";
import { EventSourceParserStream } from "eventsource-parser/stream";
import { checkEvent, graphListSchema } from "../../lib/events.ts";
import { createWorkflowService, type WorkflowService } from "../../lib/workflow_service/mod.ts";
import { poll } from "../fixtures/within.ts";

const NOW = new Date("2026-07-15T10:00:00.000Z");
const clock = () => NOW;

interface Served {
  url: string;
  service: WorkflowService;
  close(): Promise<void>;
}

function serve(opts: Parameters<typeof createWorkflowService>[0]): Served {
  const service = createWorkflowService(opts);
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    (req) => service.handler(req),
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    service,
    async close() {
      await service.close();
      await server.shutdown();
    },
  };
}

interface Ev {
  id: number;
  type: string;
  data: Record<string, unknown>;
}

/** Reads SSE events one at a time, validating each as it arrives. */
class EventReader {
  readonly #reader: ReadableStreamDefaultReader<{ id?: string; event?: string; data: string }>;
  readonly events: Ev[] = [];
  constructor(res: Response, readonly threadId: string, onComment?: (text: string) => void) {
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    this.#reader = res.body!.pipeThrough(new TextDecoderStream())
      .pipeThrough(new EventSourceParserStream({ onComment })).getReader();
  }
  async next(): Promise<Ev | undefined> {
    const { value, done } = await this.#reader.read();
    if (done) return undefined;
    const type = value.event ?? "message";
    const check = checkEvent(type, value.data);
    assert.ok(check.ok, `invalid ${type}: ${check.ok ? "" : check.reason}`);
    const ev: Ev = { id: Number(value.id), type, data: JSON.parse(value.data) };
    assert.equal(ev.data.workflowId, this.threadId);
    assert.equal(typeof ev.data.ts, "string");
    assert.ok(Number.isInteger(ev.id), `event ${type} has no numeric id`);
    this.events.push(ev);
    return ev;
  }
  async until(type: string): Promise<Ev> {
    for (let ev = await this.next(); ev; ev = await this.next()) if (ev.type === type) return ev;
    throw new Error(`stream ended before ${type}`);
  }
  async rest(): Promise<Ev[]> {
    while (await this.next());
    return this.events;
  }
}

function post(base: string, path: string, body: unknown, headers: HeadersInit = {}) {
  return fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function errorOf(res: Response, status: number, error: string): Promise<void> {
  const body = await res.json();
  assert.equal(res.status, status, JSON.stringify(body));
  assert.equal(body.error, error);
  assert.equal(typeof body.message, "string");
}

function assertIncreasing(events: Ev[]): void {
  for (let i = 1; i < events.length; i++) {
    assert.ok(events[i].id > events[i - 1].id, `id ${events[i].id} after ${events[i - 1].id}`);
  }
}

/** `type:step` (or `artifact:name`) for each event, a compact picture of a stream. */
function shape(events: Ev[]): string[] {
  return events.map((e) => {
    if (e.type === "artifact") return `artifact:${e.data.name}`;
    if (e.type.startsWith("step_")) return `${e.type}:${e.data.step}`;
    return e.type;
  });
}

function taskShape(steps: string[], artifacts: Record<string, string[]>): string[] {
  return steps.flatMap((s) => [
    `step_started:${s}`,
    `step_completed:${s}`,
    ...(artifacts[s] ?? []).map((a) => `artifact:${a}`),
  ]);
}

interface Case {
  graph: string;
  prompt: string;
  gate: string;
  before: string[];
  after: string[];
  /** Step → the artifacts it emits after its step_completed, in order. */
  artifacts: Record<string, string[]>;
  /** Artifacts emitted after the gate's step_completed when it is rejected. */
  onReject: string[];
  /** Checks the success result and the artifacts by name. */
  verify(result: Record<string, unknown>, artifacts: Map<string, Record<string, unknown>>): void;
}

const CASES: Case[] = [
  {
    graph: "hotel_o2c",
    prompt:
      "Create a hotel reservation for John Doe from 2026-12-01 to 2026-12-04, suite, $250 per night",
    gate: "manager_approval",
    before: ["reservation", "availability"],
    after: ["check_in", "invoice", "payment"],
    artifacts: {
      reservation: ["reservation"],
      // The reservation again, no longer "held" once the guest is in.
      check_in: ["reservation"],
      invoice: ["invoice"],
      payment: ["payment_receipt"],
    },
    onReject: ["reservation"],
    verify(result, artifacts) {
      assert.equal(result.guest, "John Doe");
      assert.equal(result.nights, 3);
      const reservation = artifacts.get("reservation")!;
      assert.equal(reservation.guest, "John Doe");
      assert.equal(reservation.check_in, "2026-12-01");
      assert.equal(reservation.room_type, "suite");
      assert.equal(reservation.status, "checked_in");
      assert.equal(reservation.confirmation, result.confirmation);
      assert.equal(reservation.room_number, result.room_number);
      const invoice = artifacts.get("invoice")!;
      // 3 × $250 + 3 × $3.50 tourism fee + 12 % occupancy tax on the room (90)
      assert.equal(invoice.total, 850.5);
      assert.equal((invoice.line_items as unknown[]).length, 2);
      const receipt = artifacts.get("payment_receipt")!;
      assert.equal(receipt.amount, 850.5);
      assert.match(String(receipt.reference), /^PAY-[0-9A-Z]{6}$/);
      assert.equal(result.payment_reference, receipt.reference);
    },
  },
  {
    graph: "hospital_admission",
    prompt: "Admit patient Maria Garcia, 67, with severe chest pain and shortness of breath",
    gate: "physician_approval",
    before: ["triage", "bed_assignment"],
    after: ["admission_record"],
    artifacts: { admission_record: ["admission_record"] },
    onReject: [],
    verify(result, artifacts) {
      assert.equal(result.patient, "Maria Garcia");
      assert.equal(result.esi_level, 2);
      assert.equal(result.ward, "Cardiology");
      const record = artifacts.get("admission_record")!;
      assert.equal(record.age, 67);
      assert.match(String(record.bed), /^CARD-\d+[AB]$/);
      assert.equal(record.provisional_diagnosis, "Suspected acute coronary syndrome");
      assert.equal(record.chief_complaint, "severe chest pain and shortness of breath");
    },
  },
  {
    graph: "purchase_order",
    prompt: "Order 20 laptops from Acme Corp at $1,200 each for Engineering",
    gate: "finance_approval",
    before: ["requisition", "budget_check"],
    after: ["issue_po", "goods_receipt", "three_way_match"],
    artifacts: {
      issue_po: ["purchase_order"],
      goods_receipt: ["goods_receipt"],
      three_way_match: ["match_report"],
    },
    onReject: [],
    verify(result, artifacts) {
      assert.equal(result.vendor, "Acme Corp");
      assert.equal(result.department, "Engineering");
      assert.equal(result.total, 24_045); // 20 × 1,200 + 45 shipping
      assert.equal(result.matched, true);
      const po = artifacts.get("purchase_order")!;
      assert.deepEqual((po.line_items as Array<Record<string, unknown>>)[0].quantity, 20);
      assert.equal(artifacts.get("match_report")!.status, "ready_for_payment");
    },
  },
];

let threadCounter = 0;
const newThread = (prefix: string) => `${prefix}-${++threadCounter}`;

async function startToGate(base: string, c: Case, threadId: string): Promise<EventReader> {
  const r = new EventReader(
    await post(base, "/execute", {
      graph_name: c.graph,
      thread_id: threadId,
      initial_state: { prompt: c.prompt },
    }),
    threadId,
  );
  await r.rest();
  return r;
}

function resume(base: string, c: Case, threadId: string, decision: string, stepId = c.gate) {
  return post(base, "/execute", {
    graph_name: c.graph,
    thread_id: threadId,
    initial_state: {},
    resume: { stepId, decision, comment: `${decision}d in test` },
  });
}

Deno.test("workflow service over HTTP", async (t) => {
  const fast = serve({ stepDelayMs: 0, now: clock });
  // A step delay no test waits for: aborts must cut it short.
  const slow = serve({ stepDelayMs: 60_000, now: clock });
  try {
    for (const c of CASES) {
      await t.step(
        `${c.graph}: approve runs every step, ids increase across the resume`,
        async () => {
          const id = newThread(c.graph);
          const first = await startToGate(fast.url, c, id);
          assert.deepEqual(shape(first.events), [
            "workflow_initialized",
            ...taskShape(c.before, c.artifacts),
            `step_started:${c.gate}`,
            "approval_required",
          ]);
          const init = first.events[0].data;
          assert.equal(init.graph, c.graph);
          assert.deepEqual(
            (init.steps as Array<{ name: string }>).map((s) => s.name),
            [...c.before, c.gate, ...c.after],
          );
          const approval = first.events.at(-1)!.data;
          assert.equal(approval.stepId, c.gate);
          assert.deepEqual(approval.options, ["approve", "reject"]);
          assert.ok(String(approval.message).length > 10);

          const second = new EventReader(await resume(fast.url, c, id, "approve"), id);
          await second.rest();
          assert.deepEqual(shape(second.events), [
            "approval_resolved",
            `step_completed:${c.gate}`,
            ...taskShape(c.after, c.artifacts),
            "workflow_complete",
          ]);
          assert.equal(second.events[0].data.decision, "approve");
          assert.equal(second.events[0].data.comment, "approved in test");
          const all = [...first.events, ...second.events];
          assertIncreasing(all);
          assert.equal(all[0].id, 1);
          const done = second.events.at(-1)!.data;
          assert.equal(done.status, "success");
          // By name, the newest version of each (what the console shows).
          const artifacts = new Map(
            all.filter((e) => e.type === "artifact").map((e) => {
              assert.equal(e.data.mime, "application/json");
              return [String(e.data.name), e.data.content as Record<string, unknown>];
            }),
          );
          assert.deepEqual(
            [...artifacts.keys()].sort(),
            [...new Set(Object.values(c.artifacts).flat())].sort(),
          );
          c.verify(done.result as Record<string, unknown>, artifacts);

          // The thread is finished: another resume conflicts.
          await errorOf(await resume(fast.url, c, id, "approve"), 409, "not_waiting");
        },
      );

      await t.step(`${c.graph}: reject completes as rejected and skips the rest`, async () => {
        const id = newThread(c.graph);
        const first = await startToGate(fast.url, c, id);
        const second = new EventReader(await resume(fast.url, c, id, "reject"), id);
        await second.rest();
        assert.deepEqual(shape(second.events), [
          "approval_resolved",
          `step_completed:${c.gate}`,
          ...c.onReject.map((a) => `artifact:${a}`),
          "workflow_complete",
        ]);
        assertIncreasing([...first.events, ...second.events]);
        const done = second.events.at(-1)!.data;
        assert.equal(done.status, "rejected");
        const result = done.result as Record<string, unknown>;
        assert.equal(result.rejected_at, c.gate);
        assert.equal(result.comment, "rejectd in test");
        assert.deepEqual(result.skipped_steps, c.after);
        // A document released by the rejection keeps its number and says why.
        for (const e of second.events.filter((e) => e.type === "artifact")) {
          const held = first.events.find((f) =>
            f.type === "artifact" && f.data.name === e.data.name
          )!.data.content as Record<string, unknown>;
          const released = e.data.content as Record<string, unknown>;
          assert.equal(held.status, "held");
          assert.equal(released.status, "released");
          assert.equal(released.confirmation, held.confirmation);
          assert.equal(released.release_reason, "rejected at manager approval: rejectd in test");
        }
      });

      await t.step(`${c.graph}: abort after the first step_started ends the run`, async () => {
        const id = newThread(c.graph);
        const r = new EventReader(
          await post(slow.url, "/execute", {
            graph_name: c.graph,
            thread_id: id,
            initial_state: { prompt: c.prompt },
          }),
          id,
        );
        const started = await r.until("step_started");
        assert.equal(started.data.step, c.before[0]);
        const res = await post(slow.url, "/abort", { thread_id: id });
        assert.equal(res.status, 200);
        assert.deepEqual(await res.json(), { thread_id: id, status: "aborted" });
        const events = await r.rest();
        assert.deepEqual(shape(events), [
          "workflow_initialized",
          `step_started:${c.before[0]}`,
          "workflow_aborted",
        ]);
        assertIncreasing(events);
        // Aborting again is idempotent; the thread cannot be resumed.
        assert.equal(
          (await (await post(slow.url, "/abort", { thread_id: id })).json()).status,
          "aborted",
        );
        await errorOf(await resume(slow.url, c, id, "approve"), 409, "not_waiting");
      });

      await t.step(
        `${c.graph}: a resume naming another step is 409 and changes nothing`,
        async () => {
          const id = newThread(c.graph);
          const first = await startToGate(fast.url, c, id);
          await errorOf(
            await resume(fast.url, c, id, "approve", "not_the_gate"),
            409,
            "step_mismatch",
          );
          const second = new EventReader(await resume(fast.url, c, id, "approve"), id);
          await second.rest();
          assert.equal(second.events.at(-1)!.data.status, "success");
          assertIncreasing([...first.events, ...second.events]);
        },
      );

      await t.step(`${c.graph}: a failing step ends with workflow_error`, async () => {
        const id = newThread(c.graph);
        const r = new EventReader(
          await post(fast.url, "/execute", {
            graph_name: c.graph,
            thread_id: id,
            initial_state: { prompt: c.prompt, simulate_failure: c.before[1] },
          }),
          id,
        );
        const events = await r.rest();
        assert.deepEqual(shape(events), [
          "workflow_initialized",
          ...taskShape([c.before[0]], c.artifacts),
          `step_started:${c.before[1]}`,
          "workflow_error",
        ]);
        const err = events.at(-1)!.data;
        assert.equal(err.code, "step_failed");
        assert.equal(err.retries, 0);
        assert.equal(err.step, c.before[1]);
        await errorOf(await post(fast.url, "/abort", { thread_id: id }), 409, "not_active");
      });
    }

    await t.step("abort while waiting for approval: 200, then the resume is refused", async () => {
      const c = CASES[0];
      const id = newThread("wait-abort");
      await startToGate(fast.url, c, id);
      const res = await post(fast.url, "/abort", { thread_id: id });
      assert.deepEqual(await res.json(), { thread_id: id, status: "aborted" });
      await errorOf(await resume(fast.url, c, id, "approve"), 409, "not_waiting");
    });

    await t.step("frames are exactly id/event/data lines with LF only", async () => {
      const id = newThread("raw");
      const res = await post(fast.url, "/execute", {
        graph_name: "hotel_o2c",
        thread_id: id,
        initial_state: { prompt: "for Jane Roe" },
      });
      const text = await res.text();
      assert.ok(!text.includes("\r"));
      const frames = text.split("\n\n").filter(Boolean);
      assert.ok(frames.length >= 5);
      for (const [i, frame] of frames.entries()) {
        assert.match(frame, new RegExp(`^id: ${i + 1}\\nevent: [a-z_]+\\ndata: \\{.*\\}$`));
      }
    });

    await t.step("contract errors: 404, 409, 400, 415, 405", async () => {
      const c = CASES[0];
      await errorOf(await resume(fast.url, c, "never-started", "approve"), 404, "unknown_thread");
      await errorOf(
        await post(fast.url, "/abort", { thread_id: "never-started" }),
        404,
        "unknown_thread",
      );
      await errorOf(
        await post(fast.url, "/execute", {
          graph_name: "no_such_graph",
          thread_id: "x1",
          initial_state: {},
        }),
        404,
        "unknown_graph",
      );
      await errorOf(await post(fast.url, "/execute", "{not json"), 400, "bad_request");
      await errorOf(
        await post(fast.url, "/execute", { graph_name: "hotel_o2c" }),
        400,
        "bad_request",
      );
      await errorOf(
        await post(fast.url, "/execute", { graph_name: "hotel_o2c", thread_id: "bad id!" }),
        400,
        "bad_request",
      );
      await errorOf(
        await post(fast.url, "/execute", {
          graph_name: "hotel_o2c",
          thread_id: "x2",
          resume: { stepId: "manager_approval", decision: "maybe" },
        }),
        400,
        "bad_request",
      );
      await errorOf(await post(fast.url, "/abort", {}), 400, "bad_request");
      await errorOf(
        await post(fast.url, "/execute", "graph_name=hotel_o2c", { "content-type": "text/plain" }),
        415,
        "unsupported_media_type",
      );
      await errorOf(await fetch(`${fast.url}/execute`), 405, "method_not_allowed");
      await errorOf(await fetch(`${fast.url}/nope`), 404, "not_found");

      const id = newThread("dup");
      await startToGate(fast.url, c, id);
      await errorOf(
        await post(fast.url, "/execute", { graph_name: c.graph, thread_id: id, initial_state: {} }),
        409,
        "thread_exists",
      );
      await errorOf(
        await post(fast.url, "/execute", {
          graph_name: "purchase_order",
          thread_id: id,
          resume: { stepId: c.gate, decision: "approve" },
        }),
        409,
        "graph_mismatch",
      );
    });

    await t.step("GET /health and GET /graphs", async () => {
      const health = await (await fetch(`${fast.url}/health`)).json();
      assert.equal(health.status, "ok");
      assert.equal(health.graphs, 3);
      // Only threads that can still continue keep LangGraph checkpoints: finished ones drop
      // theirs at once (a long-lived service must not hold every past run's state).
      assert.ok(health.threads.total > health.threads.running + health.threads.waiting);
      assert.equal(health.threads.checkpointed, health.threads.running + health.threads.waiting);
      const graphs = graphListSchema.parse(await (await fetch(`${fast.url}/graphs`)).json());
      assert.deepEqual(graphs.graphs.map((g) => g.name), CASES.map((c) => c.graph));
      for (const g of graphs.graphs) assert.ok(g.example_prompt && g.title && g.description);
    });

    await t.step("a caller that cancels the body does not stop the run", async () => {
      const c = CASES[1];
      const id = newThread("cancel");
      const res = await post(fast.url, "/execute", {
        graph_name: c.graph,
        thread_id: id,
        initial_state: { prompt: c.prompt },
      });
      const reader = res.body!.getReader();
      await reader.read();
      await reader.cancel();
      // The run goes on to the gate on its own; a resume is accepted once it waits there.
      const answer = await poll(
        async () => {
          const attempt = await resume(fast.url, c, id, "approve");
          if (attempt.status === 200) return attempt;
          await errorOf(attempt, 409, "not_waiting");
        },
        200,
        5,
      );
      assert.equal(answer?.status, 200);
      const second = new EventReader(answer!, id);
      const events = await second.rest();
      assert.equal(events.at(-1)!.data.status, "success");
      assert.ok(events[0].id > 1);
    });
  } finally {
    await fast.close();
    await slow.close();
  }
});

Deno.test("a long step sends keep-alive comments between events", async () => {
  const s = serve({ stepDelayMs: 60_000, keepAliveMs: 5, now: clock });
  try {
    const comments: string[] = [];
    let heard!: () => void;
    const keptAlive = new Promise<void>((resolve) => (heard = resolve));
    const r = new EventReader(
      await post(s.url, "/execute", { graph_name: "hotel_o2c", thread_id: "ka-1" }),
      "ka-1",
      (text) => {
        comments.push(text);
        heard();
      },
    );
    await r.until("step_started");
    // Reading pulls bytes through the parser; no event can come while the step waits 60 s.
    const next = r.next();
    await keptAlive;
    assert.equal(comments[0].trim(), "keep-alive");
    const res = await post(s.url, "/abort", { thread_id: "ka-1" });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.equal((await next)?.type, "workflow_aborted");
    assert.equal(await r.next(), undefined);
  } finally {
    await s.close();
  }
});

Deno.test("bearer token: 401 without it, 200 with it", async () => {
  const s = serve({ token: "s3cret-token", now: clock });
  try {
    await errorOf(await fetch(`${s.url}/health`), 401, "unauthorized");
    await errorOf(
      await fetch(`${s.url}/graphs`, { headers: { authorization: "Bearer wrong" } }),
      401,
      "unauthorized",
    );
    const res = await fetch(`${s.url}/health`, {
      headers: { authorization: "Bearer s3cret-token" },
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
  } finally {
    await s.close();
  }
});

Deno.test("in-process: close() ends a running thread with workflow_error shutdown", async () => {
  const service = createWorkflowService({ stepDelayMs: 60_000, now: clock });
  const res = await service.handler(
    new Request("http://workflow.local/execute", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        graph_name: "purchase_order",
        thread_id: "shut-1",
        initial_state: {},
      }),
    }),
  );
  const r = new EventReader(res, "shut-1");
  await r.until("step_started");
  await service.close();
  const events = await r.rest();
  assert.equal(events.at(-1)!.type, "workflow_error");
  assert.equal(events.at(-1)!.data.code, "shutdown");
  const after = await service.handler(new Request("http://workflow.local/health"));
  assert.equal(after.status, 503);
  await after.body?.cancel();
});

Deno.test("in-process: a table full of running threads answers 503 busy", async () => {
  const service = createWorkflowService({ stepDelayMs: 60_000, maxThreads: 1, now: clock });
  const call = (path: string, body: unknown) =>
    service.handler(
      new Request(`http://workflow.local${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      }),
    );
  try {
    const first = await call("/execute", { graph_name: "hotel_o2c", thread_id: "busy-1" });
    await errorOf(
      await call("/execute", { graph_name: "hotel_o2c", thread_id: "busy-2" }),
      503,
      "busy",
    );
    assert.equal((await call("/abort", { thread_id: "busy-1" })).status, 200);
    await first.text();
    // The aborted thread is idle now and makes room.
    const second = await call("/execute", { graph_name: "hotel_o2c", thread_id: "busy-2" });
    assert.equal(second.status, 200);
    await call("/abort", { thread_id: "busy-2" });
    await second.text();
  } finally {
    await service.close();
  }
});

Deno.test("in-process: finished threads are evicted after finishedTtlMs", async () => {
  let now = NOW.getTime();
  const service = createWorkflowService({ now: () => new Date(now), finishedTtlMs: 60_000 });
  const call = (path: string, body: unknown) =>
    service.handler(
      new Request(`http://workflow.local${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      }),
    );
  try {
    const run = (id: string) =>
      call("/execute", { graph_name: "hospital_admission", thread_id: id, initial_state: {} });
    await (await run("old")).text();
    await (await call("/abort", { thread_id: "old" })).json(); // waiting → aborted (finished)
    now += 59_000;
    await (await run("mid")).text();
    assert.equal((await call("/abort", { thread_id: "old" })).status, 200);
    now += 2_000;
    await (await run("new")).text(); // sweeps
    await errorOf(await call("/abort", { thread_id: "old" }), 404, "unknown_thread");
    // "mid" is waiting (24 h default): still there.
    assert.equal((await call("/abort", { thread_id: "mid" })).status, 200);
  } finally {
    await service.close();
  }
});
