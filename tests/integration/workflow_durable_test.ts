/**
 * The built-in workflow service on a Deno KV file survives its process: a run waiting for approval
 * survives restarts (in-process: the service closed and created again on the same file; and
 * `deno task workflow` processes stopped and started), and a run cut mid-step (a closed service,
 * `kill -9` of the process) goes on in the next one, where the cut step runs again with
 * `retry: true` and no completed step runs twice. Every thread keeps one unbroken id sequence.
 */
import assert from "node:assert/strict";
import { createWorkflowService, type WorkflowService } from "../../lib/workflow_service/mod.ts";
import { spawnWorkflowService } from "../fixtures/process.ts";
import {
  assertUnbroken,
  eventsOf,
  readEvents,
  shape,
  type WfEvent,
} from "../fixtures/workflow_sse.ts";

const HOTEL_BEFORE = [
  "workflow_initialized",
  "step_started:reservation",
  "step_completed:reservation",
  "artifact:reservation",
  "step_started:availability",
  "step_completed:availability",
  "step_started:manager_approval",
  "approval_required",
];
const HOTEL_AFTER = [
  "approval_resolved",
  "step_completed:manager_approval",
  "step_started:check_in",
  "step_completed:check_in",
  "artifact:reservation",
  "step_started:invoice",
  "step_completed:invoice",
  "artifact:invoice",
  "step_started:payment",
  "step_completed:payment",
  "artifact:payment_receipt",
  "workflow_complete",
];

type Call = (path: string, init?: RequestInit) => Promise<Response>;

const execute = (call: Call, body: unknown) =>
  call("/execute", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
const startHotel = (call: Call, id: string) =>
  execute(call, {
    graph_name: "hotel_o2c",
    thread_id: id,
    initial_state: { prompt: "Create a hotel reservation for John Doe, suite, 2 nights" },
  });
const approveHotel = (call: Call, id: string) =>
  execute(call, {
    graph_name: "hotel_o2c",
    thread_id: id,
    initial_state: {},
    resume: { stepId: "manager_approval", decision: "approve" },
  });

function inProcess(kv: Deno.Kv, stepDelayMs = 0): { service: WorkflowService; call: Call } {
  const service = createWorkflowService({ kv, stepDelayMs, leaseMs: 500, pollMs: 20 });
  return {
    service,
    call: (path, init) => service.handler(new Request(`http://workflow.test${path}`, init)),
  };
}

/** Each step completes once, and the cut one (if any) starts twice, the second time as a retry. */
function assertOnce(events: WfEvent[], retried?: string): void {
  const completed = events.filter((e) => e.type === "step_completed").map((e) => e.data.step);
  assert.deepEqual(completed, [...new Set(completed)], "a step completed twice");
  const retries = events.filter((e) => e.type === "step_started" && e.data.retry === true);
  assert.deepEqual(retries.map((e) => e.data.step), retried ? [retried] : []);
}

Deno.test("in-process: a waiting run survives 3 restarts on one KV file, then completes", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/wf.kv`;
  try {
    let kv = await Deno.openKv(path);
    let s = inProcess(kv);
    const first = await readEvents(await startHotel(s.call, "dur-1"), "dur-1");
    assert.deepEqual(shape(first), HOTEL_BEFORE);
    for (let i = 0; i < 3; i++) {
      await s.service.close();
      kv.close();
      kv = await Deno.openKv(path);
      s = inProcess(kv);
      // Still known, still waiting: a rejoin replays up to the gate.
      assert.deepEqual(await readEvents(await s.call("/runs/dur-1/stream"), "dur-1"), first);
    }
    const second = await readEvents(await approveHotel(s.call, "dur-1"), "dur-1");
    assert.deepEqual(shape(second), HOTEL_AFTER);
    const all = await readEvents(await s.call("/runs/dur-1/stream"), "dur-1");
    assert.deepEqual(all, [...first, ...second]);
    assertUnbroken(all);
    assertOnce(all);
    await s.service.close();
    kv.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("in-process: a run stopped mid-step goes on in the next service, the step as a retry", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/wf.kv`;
  try {
    let kv = await Deno.openKv(path);
    let s = inProcess(kv, 200);
    const seen: WfEvent[] = [];
    for await (const ev of eventsOf(await startHotel(s.call, "cut-1"), "cut-1")) {
      seen.push(ev);
      if (ev.type === "step_started" && ev.data.step === "availability") break;
    }
    await s.service.close();
    kv.close();
    kv = await Deno.openKv(path);
    s = inProcess(kv, 0);
    const rest = await readEvents(
      await s.call("/runs/cut-1/stream", { headers: { "last-event-id": String(seen.at(-1)!.id) } }),
      "cut-1",
    );
    assert.deepEqual(shape(rest), [
      "step_started:availability:retry",
      "step_completed:availability",
      "step_started:manager_approval",
      "approval_required",
    ]);
    const second = await readEvents(await approveHotel(s.call, "cut-1"), "cut-1");
    assert.equal(second.at(-1)!.data.status, "success");
    const all = await readEvents(await s.call("/runs/cut-1/stream"), "cut-1");
    assertUnbroken(all);
    assertOnce(all, "availability");
    await s.service.close();
    kv.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** `deno task workflow` on `kvPath`, with a short lease so a killed process is noticed soon. */
async function workflowProcess(kvPath: string, stepDelayMs: number) {
  const proc = await spawnWorkflowService({
    KV_PATH: kvPath,
    WORKFLOW_STEP_DELAY_MS: String(stepDelayMs),
    WORKFLOW_LEASE_MS: "600",
    LOG_LEVEL: "info",
  });
  const call: Call = (path, init) => fetch(`${proc.url}${path}`, init);
  return { proc, call };
}

Deno.test("deno task workflow: a waiting run survives 3 restarts (SIGTERM, SIGKILL, SIGINT)", async () => {
  const dir = await Deno.makeTempDir();
  const kvPath = `${dir}/workflow.kv`;
  let p = await workflowProcess(kvPath, 0);
  try {
    const first = await readEvents(await startHotel(p.call, "proc-1"), "proc-1");
    assert.deepEqual(shape(first), HOTEL_BEFORE);
    for (const signal of ["SIGTERM", "SIGKILL", "SIGINT"] as const) {
      p.proc.kill(signal);
      await p.proc.status;
      p = await workflowProcess(kvPath, 0);
      assert.deepEqual(await readEvents(await p.call("/runs/proc-1/stream"), "proc-1"), first);
    }
    const second = await readEvents(await approveHotel(p.call, "proc-1"), "proc-1");
    assert.deepEqual(shape(second), HOTEL_AFTER);
    const all = await readEvents(await p.call("/runs/proc-1/stream"), "proc-1");
    assert.deepEqual(all, [...first, ...second]);
    assertUnbroken(all);
    assertOnce(all);
  } finally {
    p.proc.kill("SIGKILL");
    await p.proc.status;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task workflow: kill -9 mid-step, restart, rejoin: the step runs again as a retry", async () => {
  const dir = await Deno.makeTempDir();
  const kvPath = `${dir}/workflow.kv`;
  let p = await workflowProcess(kvPath, 400);
  try {
    const seen: WfEvent[] = [];
    for await (const ev of eventsOf(await startHotel(p.call, "kill-1"), "kill-1")) {
      seen.push(ev);
      if (ev.type === "step_started" && ev.data.step === "availability") break;
    }
    p.proc.kill("SIGKILL");
    await p.proc.status;
    p = await workflowProcess(kvPath, 0);
    const rest = await readEvents(
      await p.call("/runs/kill-1/stream", {
        headers: { "last-event-id": String(seen.at(-1)!.id) },
      }),
      "kill-1",
    );
    assert.deepEqual(shape(rest), [
      "step_started:availability:retry",
      "step_completed:availability",
      "step_started:manager_approval",
      "approval_required",
    ]);
    assert.ok(p.proc.logs.some((l) => l.msg === "thread taken over after its process stopped"));
    const second = await readEvents(await approveHotel(p.call, "kill-1"), "kill-1");
    assert.equal(second.at(-1)!.data.status, "success");
    const all = await readEvents(await p.call("/runs/kill-1/stream"), "kill-1");
    assertUnbroken(all);
    assertOnce(all, "availability");
    assert.deepEqual(all.slice(0, seen.length), seen);
  } finally {
    p.proc.kill("SIGKILL");
    await p.proc.status;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task workflow: the rejoin endpoint, with WORKFLOW_EVENT_RETENTION", async () => {
  const proc = await spawnWorkflowService({
    WORKFLOW_STEP_DELAY_MS: "20",
    WORKFLOW_EVENT_RETENTION: "12",
  });
  const call: Call = (path, init) => fetch(`${proc.url}${path}`, init);
  try {
    const first = await readEvents(await startHotel(call, "pr-1"), "pr-1");
    assert.deepEqual(shape(first), HOTEL_BEFORE);
    // A waiting thread: replay after n up to the gate, by header and by query.
    assert.deepEqual(
      await readEvents(await call("/runs/pr-1/stream", { headers: { "last-event-id": "2" } })),
      first.slice(2),
    );
    assert.deepEqual(await readEvents(await call("/runs/pr-1/stream?after=5")), first.slice(5));
    // Live: joined right after the decision, followed to the end.
    const resumed = eventsOf(await approveHotel(call, "pr-1"), "pr-1");
    const resolved = (await resumed.next()).value as WfEvent;
    await resumed.return(undefined);
    const rest = await readEvents(
      await call(`/runs/pr-1/stream?after=${resolved.id}`),
      "pr-1",
    );
    assert.deepEqual(shape([resolved, ...rest]), HOTEL_AFTER);
    assertUnbroken([...first, resolved, ...rest]);
    const last = rest.at(-1)!.id;
    // Only the last 12 are kept.
    assert.deepEqual(
      await readEvents(await call(`/runs/pr-1/stream?after=${last - 12}`)),
      [...first, resolved, ...rest].slice(last - 12),
    );
    const gone = await call(`/runs/pr-1/stream?after=${last - 13}`);
    assert.equal(gone.status, 410);
    assert.equal((await gone.json()).error, "events_expired");
    const unknown = await call("/runs/nobody/stream");
    assert.equal(unknown.status, 404);
    assert.equal((await unknown.json()).error, "unknown_thread");
  } finally {
    proc.kill("SIGKILL");
    await proc.status;
  }
});

Deno.test("deno task workflow: a run cut by kill -9 goes on after a restart with nobody rejoining", async () => {
  const dir = await Deno.makeTempDir();
  const kvPath = `${dir}/workflow.kv`;
  let p = await workflowProcess(kvPath, 400);
  try {
    for await (const ev of eventsOf(await startHotel(p.call, "scan-1"), "scan-1")) {
      if (ev.type === "step_started") break;
    }
    p.proc.kill("SIGKILL");
    await p.proc.status;
    p = await workflowProcess(kvPath, 0);
    // Only /health is asked: the orphan scan alone must take the thread to its gate.
    let waiting = 0;
    for (let i = 0; i < 200 && waiting === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      waiting = (await (await p.call("/health")).json()).threads.waiting;
    }
    assert.equal(waiting, 1);
    const all = await readEvents(await p.call("/runs/scan-1/stream"), "scan-1");
    assert.deepEqual(shape(all), [
      "workflow_initialized",
      "step_started:reservation",
      "step_started:reservation:retry",
      ...HOTEL_BEFORE.slice(2),
    ]);
    assertUnbroken(all);
  } finally {
    p.proc.kill("SIGKILL");
    await p.proc.status;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("two services on one KV file: a rejoin follows the other's live run, an abort reaches it", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/wf.kv`;
  const kvA = await Deno.openKv(path);
  const kvB = await Deno.openKv(path);
  const a = inProcess(kvA, 40);
  const b = inProcess(kvB, 40);
  try {
    // Runs at A; B's reader sees the same events, found by polling the shared file.
    const [atA, atB] = await Promise.all([
      readEvents(await startHotel(a.call, "two-1"), "two-1"),
      (async () => {
        await new Promise((r) => setTimeout(r, 10));
        return readEvents(await b.call("/runs/two-1/stream"), "two-1");
      })(),
    ]);
    assert.deepEqual(atB, atA);
    assert.deepEqual(shape(atA), HOTEL_BEFORE);
    // Approved at B (it runs there now); aborted through A while a step runs at B.
    const resumed = eventsOf(await approveHotel(b.call, "two-1"), "two-1");
    for (let ev = await resumed.next(); !ev.done; ev = await resumed.next()) {
      if (ev.value.type === "step_started") break;
    }
    const res = await a.call("/abort", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ thread_id: "two-1" }),
    });
    assert.deepEqual(await res.json(), { thread_id: "two-1", status: "aborted" });
    const all = await readEvents(await a.call("/runs/two-1/stream"), "two-1");
    assert.equal(all.at(-1)!.type, "workflow_aborted");
    assertUnbroken(all);
    await resumed.return(undefined);
  } finally {
    await a.service.close();
    await b.service.close();
    kvA.close();
    kvB.close();
    await Deno.remove(dir, { recursive: true });
  }
});
