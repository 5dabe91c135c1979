/**
 * The AG-UI dialect: the translator's output checked against both AG-UI packages the product must
 * satisfy (schemas of @ag-ui/core 1.0 and 0.0.59, and the real HttpAgent of @ag-ui/client 1.0 and
 * 0.0.59 reading the framed stream), plus the RunAgentInput interpretation.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { EventSchemas as schemas10 } from "@ag-ui/core/schemas";
import { EventSchemas as schemas0059 } from "@ag-ui/core-0.0.59";
import { HttpAgent as HttpAgent10, verifyEvents as verify10 } from "@ag-ui/client";
import { HttpAgent as HttpAgent0059, verifyEvents as verify0059 } from "@ag-ui/client-0.0.59";
import {
  type AguiEvent,
  type AguiRunFinished,
  createAguiTranslator,
  decodeInterruptId,
  encodeAguiEvent,
  encodeInterruptId,
  interpretRunInput,
  type JsonPatchOp,
} from "../../lib/gateway/dialects/agui.ts";
import {
  aguiReplayFrom,
  decisionAfter,
  findGate,
  lastDecidedGateSeq,
} from "../../lib/gateway/dialects/agui_replay.ts";
import type { StoredEvent } from "../../lib/events.ts";

// ------------------------------------------------------------------------------------------------
// Fixture: a hotel booking run, paused at an approval and then resumed to completion.

const RUN = "run-hotel-1";
const THREAD = "thread-lisbon";
const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);

function stored(seq: number, type: string, data: Record<string, unknown>): StoredEvent {
  const ts = new Date(T0 + seq * 1000).toISOString();
  return { seq, type, data: JSON.stringify({ workflowId: RUN, ts, ...data }) };
}

/** Up to the approval gate: the first AG-UI run ends here with an interrupt. */
const BEFORE_APPROVAL: StoredEvent[] = [
  stored(1, "workflow_initialized", { graph: "hotel_booking" }),
  stored(2, "step_started", { step: "search_hotels" }),
  stored(3, "step_completed", {
    step: "search_hotels",
    result: { hotels: [{ name: "Casa Azul", price: 120, rating: null }, null], note: null },
  }),
  stored(4, "step_started", { step: "select_room" }),
  stored(5, "step_completed", { step: "select_room", result: { room: "double", nights: 2 } }),
  stored(6, "artifact", {
    name: "reservation/draft",
    mime: "application/json",
    content: { hotel: "Casa Azul", total: 240 },
  }),
  stored(7, "step_started", { step: "confirm_booking" }),
  stored(8, "approval_required", {
    stepId: "confirm_booking",
    message: "Book Casa Azul, 2 nights, 240 EUR?",
    options: ["approve", "reject"],
  }),
];

/** After the decision: the second AG-UI run (a resume) carries these. */
const AFTER_APPROVAL: StoredEvent[] = [
  stored(9, "approval_resolved", { stepId: "confirm_booking", decision: "approve", comment: "ok" }),
  stored(10, "step_started", { step: "confirm_booking" }),
  stored(11, "step_completed", { step: "confirm_booking", result: { confirmation: "HX-42" } }),
  stored(12, "loyalty_points", { points: 240, tier: null }),
  stored(13, "artifact", { name: "invoice", mime: "text/html", content: "<p>240 EUR</p>" }),
  stored(14, "workflow_complete", {
    status: "complete",
    result: { confirmation: "HX-42", total: 240, discount: null },
  }),
];

const INTERRUPT_ID = encodeInterruptId(RUN, "confirm_booking");

// ------------------------------------------------------------------------------------------------
// Helpers

function translateAll(
  events: StoredEvent[],
  ids = { threadId: THREAD, runId: RUN },
  primeWith?: StoredEvent[],
) {
  const t = createAguiTranslator(ids);
  if (primeWith) t.prime(primeWith);
  const out: AguiEvent[] = [];
  for (const ev of events) out.push(...t.push(ev));
  return { t, out };
}

/** Every event must parse under both packages' schemas; returns the first failure, if any. */
function assertValidUnderBoth(events: AguiEvent[]): void {
  for (const [i, ev] of events.entries()) {
    const a = schemas10.safeParse(ev);
    assert.ok(a.success, `@ag-ui/core 1.0 rejects #${i} ${ev.type}: ${!a.success && a.error}`);
    const b = schemas0059.safeParse(ev);
    assert.ok(b.success, `@ag-ui/core 0.0.59 rejects #${i} ${ev.type}: ${!b.success && b.error}`);
  }
}

function findNull(value: unknown, path = "$"): string | undefined {
  if (value === null) return path;
  if (typeof value !== "object") return undefined;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const hit = findNull(v, `${path}.${k}`);
    if (hit) return hit;
  }
  return undefined;
}

/** A strict RFC 6902 applier for the two operations the dialect emits. */
function applyPatch(doc: unknown, ops: JsonPatchOp[]): unknown {
  const out = structuredClone(doc);
  for (const op of ops) {
    const tokens = op.path.split("/").slice(1).map((t) =>
      t.replaceAll("~1", "/").replaceAll("~0", "~")
    );
    assert.ok(tokens.length > 0, "the dialect never replaces the whole document");
    let parent = out as Record<string, unknown>;
    for (const t of tokens.slice(0, -1)) {
      assert.ok(Object.hasOwn(parent, t), `${op.path}: no parent ${t}`);
      parent = parent[t] as Record<string, unknown>;
      assert.equal(typeof parent, "object", `${op.path}: parent is not an object`);
    }
    const key = tokens[tokens.length - 1];
    if (op.op === "add") parent[key] = structuredClone(op.value);
    else {
      assert.ok(Object.hasOwn(parent, key), `${op.path}: remove of a missing member`);
      delete parent[key];
    }
  }
  return out;
}

/** Rebuilds the client-side state of one AG-UI run from its snapshot and deltas. */
function replayState(events: AguiEvent[]): unknown {
  let state: unknown = undefined;
  for (const ev of events) {
    if (ev.type === "STATE_SNAPSHOT") state = structuredClone(ev.snapshot);
    if (ev.type === "STATE_DELTA") {
      assert.notEqual(state, undefined, "a delta before any snapshot");
      state = applyPatch(state, ev.delta);
    }
  }
  return state;
}

function types(events: AguiEvent[]): string[] {
  return events.map((e) => e.type === "CUSTOM" ? `CUSTOM:${e.name}` : e.type);
}

/** A `fetch` for HttpAgent that answers each POST with the next canned SSE body, in 7-byte chunks. */
function cannedFetch(bodies: string[]) {
  const requests: unknown[] = [];
  const fetchFn = (_url: string, init: RequestInit): Promise<Response> => {
    requests.push(JSON.parse(String(init.body)));
    const bytes = new TextEncoder().encode(bodies.shift() ?? "");
    let at = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (at >= bytes.length) return controller.close();
        controller.enqueue(bytes.slice(at, at + 7));
        at += 7;
      },
    });
    return Promise.resolve(
      new Response(body, { headers: { "content-type": "text/event-stream; charset=utf-8" } }),
    );
  };
  return { fetchFn, requests };
}

function frame(events: AguiEvent[]): string {
  return events.map(encodeAguiEvent).join("");
}

/** Runs `fn` with console.warn/error captured; returns what they printed. */
async function capturingWarnings(fn: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const { warn, error } = console;
  console.warn = (...args: unknown[]) => void seen.push(args.map(String).join(" "));
  console.error = (...args: unknown[]) => void seen.push(args.map(String).join(" "));
  try {
    await fn();
  } finally {
    console.warn = warn;
    console.error = error;
  }
  return seen;
}

/** What the tests use of an HttpAgent; both client versions fit it. */
interface AgentUnderTest {
  state: unknown;
  pendingInterrupts: { id: string }[];
  runAgent(params: Record<string, unknown>): Promise<unknown>;
}

interface AgentOptions {
  url: string;
  fetch: (url: string, init: RequestInit) => Promise<Response>;
  threadId?: string;
  initialMessages?: { id: string; role: "user"; content: string }[];
}

/** Something with rxjs's `subscribe`, so the two clients' Observables need no rxjs import here. */
interface Subscribable {
  subscribe(
    o: { next(e: { type: string }): void; error(e: unknown): void; complete(): void },
  ): unknown;
}

const VERIFY_INPUT = {
  threadId: THREAD,
  runId: RUN,
  messages: [],
  tools: [],
  context: [],
  state: {},
  forwardedProps: {},
};

/** Both client versions: an agent factory and "HttpAgent.run(input) piped through verifyEvents". */
const CLIENTS: {
  name: string;
  agent(o: AgentOptions): AgentUnderTest;
  verified(o: AgentOptions): Subscribable;
}[] = [
  {
    name: "@ag-ui/client 1.0.0",
    agent: (o) => new HttpAgent10(o) as unknown as AgentUnderTest,
    verified: (o) => new HttpAgent10(o).run(VERIFY_INPUT).pipe(verify10(false)),
  },
  {
    name: "@ag-ui/client 0.0.59",
    agent: (o) => new HttpAgent0059(o) as unknown as AgentUnderTest,
    verified: (o) => new HttpAgent0059(o).run(VERIFY_INPUT).pipe(verify0059(false)),
  },
];

// ------------------------------------------------------------------------------------------------

describe("AG-UI translator: the hotel run", () => {
  const first = translateAll(BEFORE_APPROVAL);
  const resumed = translateAll(
    AFTER_APPROVAL,
    { threadId: THREAD, runId: "resume-run-2" },
    BEFORE_APPROVAL,
  );

  it("maps the run up to the approval gate in order, ending in an interrupt", () => {
    assert.deepEqual(types(first.out), [
      "RUN_STARTED",
      "STATE_SNAPSHOT",
      "STEP_STARTED",
      "STATE_DELTA",
      "STATE_DELTA",
      "STEP_FINISHED",
      "STEP_STARTED",
      "STATE_DELTA",
      "STATE_DELTA",
      "STEP_FINISHED",
      "STATE_DELTA",
      "CUSTOM:artifact",
      "STEP_STARTED",
      "STATE_DELTA",
      "STATE_DELTA",
      "STEP_FINISHED",
      "CUSTOM:on_interrupt",
      "RUN_FINISHED",
    ]);
    assert.deepEqual(first.out[0], {
      type: "RUN_STARTED",
      threadId: THREAD,
      runId: RUN,
      timestamp: T0 + 1000,
    });
    const last = first.out.at(-1) as AguiRunFinished;
    assert.equal(last.runId, RUN);
    assert.equal(last.outcome?.type, "interrupt");
    assert.deepEqual(last.outcome?.interrupts.map((i) => [i.id, i.reason, i.message]), [
      [INTERRUPT_ID, "approval", "Book Casa Azul, 2 nights, 240 EUR?"],
    ]);
    assert.deepEqual(decodeInterruptId(INTERRUPT_ID), { runId: RUN, stepId: "confirm_booking" });
    const legacy = first.out.find((e) => e.type === "CUSTOM" && e.name === "on_interrupt");
    assert.ok(legacy?.type === "CUSTOM" && typeof legacy.value === "string");
    assert.deepEqual(JSON.parse(legacy.value as string), {
      interruptId: INTERRUPT_ID,
      runId: RUN,
      stepId: "confirm_booking",
      message: "Book Casa Azul, 2 nights, 240 EUR?",
      options: ["approve", "reject"],
    });
    assert.equal(first.t.done, true);
    assert.deepEqual(first.t.push(AFTER_APPROVAL[0]), [], "nothing after a terminal");
    assert.deepEqual(first.t.finish(), []);
  });

  it("starts the resumed run with RUN_STARTED + a snapshot of the primed state", () => {
    assert.deepEqual(types(resumed.out), [
      "RUN_STARTED",
      "STATE_SNAPSHOT",
      "STATE_DELTA",
      "CUSTOM:approval_resolved",
      "STEP_STARTED",
      "STATE_DELTA",
      "STATE_DELTA",
      "STEP_FINISHED",
      "CUSTOM:loyalty_points",
      "STATE_DELTA",
      "CUSTOM:artifact",
      "STATE_DELTA",
      "RUN_FINISHED",
    ]);
    const [started, snapshot] = resumed.out;
    assert.deepEqual(started, {
      type: "RUN_STARTED",
      threadId: THREAD,
      runId: "resume-run-2",
      timestamp: T0 + 9000,
    });
    assert.ok(snapshot.type === "STATE_SNAPSHOT");
    assert.equal(snapshot.snapshot.status, "waiting_approval");
    assert.equal(snapshot.snapshot.pendingApproval?.interruptId, INTERRUPT_ID);
    // The snapshot is the state the first run's snapshot + deltas left the client with.
    assert.deepEqual(snapshot.snapshot, replayState(first.out));
    const last = resumed.out.at(-1) as AguiRunFinished;
    assert.deepEqual(last, {
      type: "RUN_FINISHED",
      threadId: THREAD,
      runId: "resume-run-2",
      result: { confirmation: "HX-42", total: 240 },
      timestamp: T0 + 14000,
    });
  });

  it("emits only events valid under @ag-ui/core 1.0 and 0.0.59, with no null anywhere", () => {
    for (const out of [first.out, resumed.out]) {
      assertValidUnderBoth(out);
      for (const [i, ev] of out.entries()) {
        assert.equal(findNull(ev), undefined, `null in #${i} ${ev.type}: ${findNull(ev)}`);
      }
    }
    // 0.0.59 is strict about the interrupt outcome: it must survive its parse intact.
    const finished = first.out.at(-1)!;
    const parsed = schemas0059.parse(finished) as { outcome?: unknown };
    assert.deepEqual(parsed.outcome, (finished as AguiRunFinished).outcome);
  });

  it("keeps the client's state equal to the translator's through snapshot + deltas", () => {
    assert.deepEqual(replayState(first.out), first.t.state);
    const final = replayState(resumed.out);
    assert.deepEqual(final, resumed.t.state);
    assert.deepEqual(final, {
      runId: RUN,
      graph: "hotel_booking",
      status: "complete",
      steps: {
        search_hotels: {
          status: "done",
          result: { hotels: [{ name: "Casa Azul", price: 120 }] },
        },
        select_room: { status: "done", result: { room: "double", nights: 2 } },
        confirm_booking: { status: "done", result: { confirmation: "HX-42" } },
      },
      artifacts: {
        "reservation/draft": {
          mime: "application/json",
          content: { hotel: "Casa Azul", total: 240 },
        },
        invoice: { mime: "text/html", content: "<p>240 EUR</p>" },
      },
      approvals: { confirm_booking: { decision: "approve", comment: "ok" } },
      result: { confirmation: "HX-42", total: 240 },
    });
    // Pointer escaping: a name with "/" is one member, not a path.
    const artifactDelta = first.out.find((e) =>
      e.type === "STATE_DELTA" && e.delta.some((op) => op.path.startsWith("/artifacts/"))
    );
    assert.ok(artifactDelta?.type === "STATE_DELTA");
    assert.equal(artifactDelta.delta[0].path, "/artifacts/reservation~1draft");
  });

  it("frames each event as one LF-only data: block", () => {
    const ev = first.out[0];
    assert.equal(encodeAguiEvent(ev), `data: ${JSON.stringify(ev)}\n\n`);
    const wire = frame([...first.out, ...resumed.out]);
    assert.ok(!wire.includes("\r"));
    assert.equal(wire.split("\n\n").length - 1, first.out.length + resumed.out.length);
  });

  for (const client of CLIENTS) {
    it(`passes ${client.name}'s verifier, schemas and state handling, then resumes`, async () => {
      const { fetchFn, requests } = cannedFetch([frame(first.out), frame(resumed.out)]);
      const agent = client.agent({
        url: "http://127.0.0.1:9/agui",
        fetch: fetchFn,
        threadId: THREAD,
        initialMessages: [{ id: "m1", role: "user", content: "Book a hotel in Lisbon" }],
      });
      const warnings = await capturingWarnings(async () => {
        await agent.runAgent({ runId: RUN, forwardedProps: { graph_name: "hotel_booking" } });
        assert.deepEqual(agent.state, first.t.state);
        assert.deepEqual(agent.pendingInterrupts.map((i) => i.id), [INTERRUPT_ID]);

        // What the client sent is what the gateway interprets.
        const start = interpretRunInput(requests[0], "default_graph");
        assert.deepEqual(start, {
          kind: "start",
          graph_name: "hotel_booking",
          initial_state: { prompt: "Book a hotel in Lisbon" },
          runId: RUN,
          threadId: THREAD,
          graphNamed: true,
        });

        // HttpAgent makes a fresh runId for the resume: the interrupt id names the run.
        await agent.runAgent({
          resume: [{
            interruptId: INTERRUPT_ID,
            status: "resolved",
            payload: { decision: "approve", comment: "ok" },
          }],
        });
        const resume = interpretRunInput(requests[1], "default_graph");
        assert.equal(resume.kind, "resume");
        assert.ok(resume.kind === "resume");
        assert.equal(resume.runId, RUN);
        assert.notEqual(resume.requestRunId, RUN);
        assert.deepEqual(resume.decision, {
          stepId: "confirm_booking",
          decision: "approve",
          comment: "ok",
        });
        assert.deepEqual(agent.state, resumed.t.state);
        assert.deepEqual(agent.pendingInterrupts, []);
      });
      assert.deepEqual(warnings, [], "the client warned (stripped fields or dropped events)");
    });

    it(`passes ${client.name}'s verifyEvents on the framed stream, and it catches a bad order`, async () => {
      const verify = (body: string) => {
        const { fetchFn } = cannedFetch([body]);
        const events$ = client.verified({ url: "http://127.0.0.1:9/agui", fetch: fetchFn });
        return new Promise<string[]>((resolve, reject) => {
          const seen: string[] = [];
          events$.subscribe({
            next: (e) => void seen.push(e.type),
            error: reject,
            complete: () => resolve(seen),
          });
        });
      };
      assert.deepEqual(await verify(frame(first.out)), first.out.map((e) => e.type));
      assert.deepEqual(await verify(frame(resumed.out)), resumed.out.map((e) => e.type));
      // The control: a STEP_FINISHED without its STEP_STARTED must be refused by the same path.
      const broken = first.out.filter((e, i) => !(i === 2 && e.type === "STEP_STARTED"));
      await assert.rejects(verify(frame(broken)), /STEP_FINISHED/);
    });
  }
});

describe("AG-UI translator: errors, unknown types and edges", () => {
  const ids = { threadId: THREAD, runId: RUN };

  it("turns workflow_error into RUN_ERROR {message, code}, closing open steps", () => {
    const { t, out } = translateAll([
      BEFORE_APPROVAL[0],
      BEFORE_APPROVAL[1],
      stored(3, "workflow_error", {
        message: "workflow service unreachable",
        retries: 3,
        code: "upstream_unreachable",
      }),
    ]);
    assert.deepEqual(types(out), [
      "RUN_STARTED",
      "STATE_SNAPSHOT",
      "STEP_STARTED",
      "STATE_DELTA",
      "STATE_DELTA",
      "STEP_FINISHED",
      "RUN_ERROR",
    ]);
    const last = out.at(-1)!;
    assert.ok(last.type === "RUN_ERROR");
    assert.equal(last.message, "workflow service unreachable");
    assert.equal(last.code, "upstream_unreachable");
    assertValidUnderBoth(out);
    assert.deepEqual(t.push(BEFORE_APPROVAL[2]), []);
    assert.deepEqual(t.finish(), []);
  });

  it("turns workflow_aborted into RUN_ERROR {message: aborted, code: aborted}", () => {
    const { out } = translateAll([BEFORE_APPROVAL[0], stored(2, "workflow_aborted", {})]);
    const last = out.at(-1)!;
    assert.deepEqual(
      {
        type: last.type,
        message: (last as { message?: string }).message,
        code: (last as { code?: string }).code,
      },
      { type: "RUN_ERROR", message: "aborted", code: "aborted" },
    );
    assertValidUnderBoth(out);
  });

  it("forwards unknown types and artifacts as CUSTOM {name, value}; drops heartbeats", () => {
    const t = createAguiTranslator(ids);
    t.push(BEFORE_APPROVAL[0]);
    assert.deepEqual(t.push({ seq: 2, type: "heartbeat", data: "{}" }), []);
    const unknown = t.push(stored(3, "weather_report", { city: "Lisbon", rain: null }));
    assert.equal(unknown.length, 1);
    const ev = unknown[0];
    assert.ok(ev.type === "CUSTOM");
    assert.equal(ev.name, "weather_report");
    assert.deepEqual(ev.value, {
      workflowId: RUN,
      ts: new Date(T0 + 3000).toISOString(),
      city: "Lisbon",
    });
    const garbled = t.push({ seq: 4, type: "odd", data: "not json" });
    assert.deepEqual(garbled, [{ type: "CUSTOM", name: "odd", value: "not json" }]);
    assertValidUnderBoth([...unknown, ...garbled]);
  });

  it("never emits STEP_FINISHED without STEP_STARTED, nor two starts of one step", () => {
    const t = createAguiTranslator(ids);
    const out = [
      ...t.push(BEFORE_APPROVAL[0]),
      ...t.push(stored(2, "step_completed", { step: "orphan", result: 1 })),
      ...t.push(stored(3, "step_started", { step: "loop" })),
      ...t.push(stored(4, "step_started", { step: "loop" })),
      ...t.push(stored(5, "step_started", { step: "__proto__" })),
      ...t.push(stored(6, "workflow_complete", { status: "complete", result: null })),
    ];
    assert.deepEqual(types(out), [
      "RUN_STARTED",
      "STATE_SNAPSHOT",
      "STEP_STARTED", // orphan, synthesized
      "STATE_DELTA",
      "STEP_FINISHED",
      "STEP_STARTED", // loop
      "STATE_DELTA",
      "STEP_FINISHED", // loop closed before it starts again
      "STEP_STARTED",
      "STATE_DELTA",
      "STEP_STARTED", // __proto__
      "STATE_DELTA",
      "STATE_DELTA", // status: complete
      "STEP_FINISHED", // open steps close before RUN_FINISHED
      "STEP_FINISHED",
      "RUN_FINISHED",
    ]);
    assertValidUnderBoth(out);
    const finished = out.at(-1) as AguiRunFinished;
    assert.equal("result" in finished, false, "a null result is omitted");
    assert.deepEqual(replayState(out), t.state);
    assert.deepEqual(Object.keys(t.state.steps), ["orphan", "loop", "_proto_"]);
  });

  it("finish() ends a run whose log stopped without a terminal event", () => {
    const t = createAguiTranslator(ids);
    t.push(BEFORE_APPROVAL[0]);
    t.push(BEFORE_APPROVAL[1]);
    const out = t.finish();
    assert.deepEqual(types(out), ["STEP_FINISHED", "RUN_ERROR"]);
    assert.equal((out[1] as { code?: string }).code, "upstream_ended");
    assert.equal(t.done, true);
    assert.deepEqual(t.finish(), []);
  });

  it("finish() after prime() alone describes the run: the pending interrupt, or its end", () => {
    const waiting = createAguiTranslator({ threadId: THREAD, runId: "attach-1" });
    waiting.prime(BEFORE_APPROVAL);
    const out = waiting.finish();
    assert.deepEqual(types(out), [
      "RUN_STARTED",
      "STATE_SNAPSHOT",
      "CUSTOM:on_interrupt",
      "RUN_FINISHED",
    ]);
    assert.equal((out[3] as AguiRunFinished).outcome?.interrupts[0].id, INTERRUPT_ID);
    assertValidUnderBoth(out);

    const ended = createAguiTranslator({ threadId: THREAD, runId: "attach-2" });
    ended.prime([...BEFORE_APPROVAL, ...AFTER_APPROVAL]);
    const out2 = ended.finish();
    assert.deepEqual(types(out2), ["RUN_STARTED", "STATE_SNAPSHOT", "RUN_FINISHED"]);
    assert.deepEqual((out2[2] as AguiRunFinished).result, { confirmation: "HX-42", total: 240 });
  });

  it("refuses prime() after the first push()", () => {
    const t = createAguiTranslator(ids);
    t.push(BEFORE_APPROVAL[0]);
    assert.throws(() => t.prime(BEFORE_APPROVAL), /prime/);
  });
});

describe("interpretRunInput", () => {
  const base = {
    threadId: THREAD,
    runId: RUN,
    messages: [
      { id: "1", role: "user", content: "first" },
      { id: "2", role: "assistant", content: "ok" },
      {
        id: "3",
        role: "user",
        content: [{ type: "text", text: "Book " }, { type: "text", text: "Lisbon" }],
      },
    ],
    tools: [],
    context: [],
    state: { leftover: true },
    forwardedProps: {},
    extra: "kept",
  };

  it("starts the default graph with the last user message as the prompt", () => {
    assert.deepEqual(interpretRunInput(base, "hotel_booking"), {
      kind: "start",
      graph_name: "hotel_booking",
      initial_state: { prompt: "Book Lisbon" },
      runId: RUN,
      threadId: THREAD,
      graphNamed: false,
    });
  });

  it("reads null as absent everywhere: graph_name, initial_state, messages, forwardedProps", () => {
    const expected = {
      kind: "start",
      graph_name: "hotel_booking",
      initial_state: { prompt: "Book Lisbon" },
      runId: RUN,
      threadId: THREAD,
      graphNamed: false,
    };
    for (
      const forwardedProps of [
        null,
        { graph_name: null },
        { initial_state: null },
        { graph_name: null, initial_state: null, command: null },
      ]
    ) {
      assert.deepEqual(
        interpretRunInput({ ...base, forwardedProps }, "hotel_booking"),
        expected,
        JSON.stringify(forwardedProps),
      );
    }
    assert.deepEqual(
      interpretRunInput(
        { ...base, messages: null, protocolVersion: null, forwardedProps: { graph_name: null } },
        "hotel_booking",
      ),
      { ...expected, initial_state: {} },
    );
  });

  it("takes graph_name and initial_state from forwardedProps", () => {
    const plan = interpretRunInput(
      { ...base, forwardedProps: { graph_name: "invoice_flow", initial_state: { amount: 3 } } },
      "hotel_booking",
    );
    assert.ok(plan.kind === "start");
    assert.equal(plan.graph_name, "invoice_flow");
    assert.deepEqual(plan.initial_state, { amount: 3 });
  });

  it("resumes from a resume entry: the interrupt id names the run and step", () => {
    const plan = interpretRunInput(
      {
        ...base,
        runId: "fresh-run",
        resume: [{
          interruptId: INTERRUPT_ID,
          status: "resolved",
          payload: { decision: "reject", comment: "too dear" },
        }],
      },
      "hotel_booking",
    );
    assert.deepEqual(plan, {
      kind: "resume",
      runId: RUN,
      threadId: THREAD,
      requestRunId: "fresh-run",
      decision: { stepId: "confirm_booking", decision: "reject", comment: "too dear" },
      form: "resume",
    });
  });

  it("reads every accepted payload form", () => {
    const decide = (entry: Record<string, unknown>) => {
      const plan = interpretRunInput(
        { ...base, resume: [{ interruptId: INTERRUPT_ID, ...entry }] },
        "g",
      );
      return plan.kind === "resume" ? plan.decision.decision : plan.kind;
    };
    assert.equal(decide({ status: "resolved" }), "approve");
    assert.equal(decide({ status: "cancelled", payload: "approve" }), "reject");
    assert.equal(decide({ status: "resolved", payload: "approve" }), "approve");
    assert.equal(decide({ status: "resolved", payload: "Rejected" }), "reject");
    assert.equal(decide({ status: "resolved", payload: true }), "approve");
    assert.equal(decide({ status: "resolved", payload: false }), "reject");
    assert.equal(decide({ status: "resolved", payload: { approved: false } }), "reject");
    assert.equal(decide({ status: "resolved", payload: '{"decision":"reject"}' }), "reject");
    assert.equal(decide({ status: "resolved", payload: { answer: 42 } }), "invalid");
    assert.equal(decide({ status: "resolved", payload: "maybe" }), "invalid");
  });

  it("falls back to the POST's runId when the interrupt id does not decode", () => {
    const plan = interpretRunInput(
      { ...base, resume: [{ interruptId: "confirm_booking", status: "resolved" }] },
      "g",
    );
    assert.ok(plan.kind === "resume");
    assert.equal(plan.runId, RUN);
    assert.equal(plan.decision.stepId, "confirm_booking");
  });

  it("accepts the legacy forwardedProps.command.resume (CopilotKit reuses the runId)", () => {
    const plain = interpretRunInput(
      { ...base, forwardedProps: { command: { resume: "approve" } } },
      "g",
    );
    assert.deepEqual(plain, {
      kind: "resume",
      runId: RUN,
      threadId: THREAD,
      requestRunId: RUN,
      decision: { decision: "approve" },
      form: "legacy",
    });
    const named = interpretRunInput(
      {
        ...base,
        runId: "other",
        forwardedProps: {
          command: { resume: JSON.stringify({ interruptId: INTERRUPT_ID, decision: "reject" }) },
        },
      },
      "g",
    );
    assert.ok(named.kind === "resume");
    assert.equal(named.runId, RUN);
    assert.deepEqual(named.decision, { stepId: "confirm_booking", decision: "reject" });
  });

  it("rejects bad input with a 400-style error body", () => {
    const bad: unknown[] = [
      null,
      { ...base, threadId: undefined },
      { ...base, runId: "has spaces" },
      { ...base, forwardedProps: { graph_name: "Not-A-Graph" } },
      { ...base, forwardedProps: { initial_state: "text" } },
      { ...base, messages: "hi" },
      { ...base, resume: [{ interruptId: INTERRUPT_ID, status: "maybe" }] },
      {
        ...base,
        resume: [
          { interruptId: INTERRUPT_ID, status: "resolved" },
          { interruptId: "run-hotel-1:other", status: "resolved" },
        ],
      },
      { ...base, forwardedProps: { command: { resume: { answer: 1 } } } },
    ];
    for (const [i, body] of bad.entries()) {
      const plan = interpretRunInput(body, "hotel_booking");
      assert.equal(plan.kind, "invalid", `case ${i} was accepted`);
      assert.ok(plan.kind === "invalid");
      assert.equal(plan.error.error, "invalid_request");
      assert.equal(typeof plan.error.message, "string");
    }
  });

  it("round-trips interrupt ids, step ids with colons included", () => {
    assert.deepEqual(decodeInterruptId(encodeInterruptId("r-1", "a:b")), {
      runId: "r-1",
      stepId: "a:b",
    });
    assert.equal(decodeInterruptId("no-colon"), undefined);
    assert.equal(decodeInterruptId(":step"), undefined);
    assert.equal(decodeInterruptId("run:"), undefined);
    assert.equal(decodeInterruptId("bad run:step"), undefined);
  });
});

describe("AG-UI replay point", () => {
  const WHOLE = [...BEFORE_APPROVAL, ...AFTER_APPROVAL];
  /** Two gates: the first decided, the run waiting at the second. */
  const TWO_GATES = [
    ...BEFORE_APPROVAL,
    AFTER_APPROVAL[0],
    stored(10, "step_started", { step: "pay" }),
    stored(11, "approval_required", { stepId: "pay", message: "Charge 240 EUR?" }),
  ];

  it("starts a stream after the last decided gate, never before it", () => {
    assert.equal(lastDecidedGateSeq(BEFORE_APPROVAL), 0, "an undecided gate is replayed");
    assert.equal(lastDecidedGateSeq(WHOLE), 8);
    assert.equal(lastDecidedGateSeq(TWO_GATES), 8, "the second gate waits: it is replayed");
    assert.equal(aguiReplayFrom(WHOLE, 0), 8);
    assert.equal(aguiReplayFrom(WHOLE, 3), 8);
    assert.equal(aguiReplayFrom(WHOLE, 11), 11, "what the client holds is not sent again");
  });

  it("ends an attach on the gate the run waits at, not on the decided one", () => {
    const from = aguiReplayFrom(TWO_GATES, 0);
    const { out } = translateAll(
      TWO_GATES.filter((e) => e.seq > from),
      undefined,
      TWO_GATES.filter((e) => e.seq <= from),
    );
    assertValidUnderBoth(out);
    const last = out.at(-1) as AguiRunFinished;
    assert.equal(last.type, "RUN_FINISHED");
    assert.deepEqual(last.outcome?.interrupts.map((i) => i.metadata.stepId), ["pay"]);
  });

  it("finds a step's gate and the decision recorded after it", () => {
    assert.equal(findGate(WHOLE, "confirm_booking"), 7);
    assert.equal(findGate(WHOLE, "nope"), -1);
    assert.deepEqual(decisionAfter(WHOLE, 7, "confirm_booking"), {
      decision: "approve",
      comment: "ok",
    });
    assert.equal(decisionAfter(BEFORE_APPROVAL, 7, "confirm_booking"), undefined);
  });
});
