/**
 * The doctor's streamed run: one real run through `POST /agui`, its stream headers, approval of
 * every gate (after a heartbeat, then a resume from Last-Event-ID), the events that arrive, the
 * terminal event and the heartbeats seen on the way.
 * @module
 */
import { createFrameParser, type SseFrame } from "../lib/sse/parse.ts";
import { describeError, fetchWithin, type Report } from "./doctor_check.ts";

/** Reads an SSE body with a deadline, reporting frames and comments as they come. */
async function readStream(
  res: Response,
  onFrame: (f: SseFrame) => boolean | void,
  onComment: (c: string) => boolean | void,
  deadline: number,
): Promise<"stopped" | "ended" | "timeout"> {
  let stop = false;
  const parser = createFrameParser((f) => {
    if (onFrame(f)) stop = true;
  }, {
    onComment: (c) => {
      if (onComment(c)) stop = true;
    },
  });
  const reader = res.body!.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), Math.max(0, deadline - Date.now()));
  });
  try {
    while (true) {
      const r = await Promise.race([reader.read(), timeout]);
      if (r === "timeout") return "timeout";
      if (r.done) {
        parser.end();
        return "ended";
      }
      parser.feed(r.value);
      if (stop) return "stopped";
    }
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => {});
  }
}

/** Reports the checks of one streamed run of `graph` on `prompt`, all within `timeoutMs`. */
export async function checkRun(
  base: string,
  auth: Record<string, string>,
  graph: string,
  prompt: string,
  timeoutMs: number,
  report: Report,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const runId = `doctor-${crypto.randomUUID()}`;
  const types: string[] = [];
  let lastSeq = 0;
  let heartbeats = 0;
  let gate: { stepId: string } | null = null;
  let terminal: SseFrame | null = null;

  const onFrame = (f: SseFrame) => {
    if (f.id && /^\d+$/.test(f.id)) lastSeq = Number(f.id);
    types.push(f.event);
    if (f.event === "approval_required") {
      try {
        gate = { stepId: String(JSON.parse(f.data).stepId) };
      } catch {
        gate = null;
      }
    }
    if (["workflow_complete", "workflow_error", "workflow_aborted"].includes(f.event)) {
      terminal = f;
      return true;
    }
  };
  // After a gate, wait for one heartbeat before approving: a paused run's stream must stay alive.
  const onComment = (c: string) => {
    if (c.trim() === "heartbeat") heartbeats++;
    return gate !== null && heartbeats > 0;
  };

  let res: Response;
  try {
    res = await fetchWithin(`${base}/agui`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ graph_name: graph, initial_state: { prompt }, run_id: runId }),
    }, 15_000);
  } catch (err) {
    report({
      ok: false,
      name: "streamed run",
      detail: `POST /agui failed: ${describeError(err)}`,
      fix: "check the gateway's log",
    });
    return;
  }
  const ct = res.headers.get("content-type") ?? "";
  const streamOk = res.status === 200 && ct.startsWith("text/event-stream");
  report({
    ok: streamOk,
    name: "stream opens",
    detail: streamOk
      ? `200 ${ct}, run ${runId}, cache-control ${res.headers.get("cache-control")}`
      : `${res.status} ${ct} ${(await res.text().catch(() => "")).slice(0, 200)}`,
    fix: res.status === 401
      ? "set GATEWAY_TOKEN in the environment to the deployment's token"
      : res.status === 429
      ? "the rate limit refused the run: wait a minute or raise RATE_LIMIT_PER_MINUTE"
      : "a proxy in between may rewrite the response; the gateway's log says more",
  });
  if (!streamOk) return;

  let outcome = await readStream(res, onFrame, onComment, deadline);
  for (
    let approvals = 0;
    !terminal && gate && approvals < 5 && outcome !== "timeout";
    approvals++
  ) {
    const stepId: string = (gate as { stepId: string }).stepId;
    gate = null;
    // A network failure here is a failed check like any other, not a crash of the doctor.
    let ok: Response;
    try {
      ok = await fetchWithin(`${base}/agui/runs/${runId}/approval`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({
          stepId,
          decision: "approve",
          comment: "approved by deno task doctor",
        }),
      }, 15_000);
      await ok.body?.cancel();
    } catch (err) {
      report({
        ok: false,
        name: "approval",
        detail: `POST approval failed: ${describeError(err)}`,
        fix: "the gateway went away or a proxy dropped the request: check the gateway's log",
      });
      return;
    }
    if (ok.status !== 202) {
      report({
        ok: false,
        name: "approval",
        detail: `POST approval answered ${ok.status}`,
        fix: 'the gateway must accept a decision for a waiting step (README, "HTTP API")',
      });
      return;
    }
    let more: Response;
    try {
      more = await fetchWithin(`${base}/agui/runs/${runId}/events`, {
        headers: { ...auth, "last-event-id": String(lastSeq) },
      }, 15_000);
    } catch (err) {
      report({
        ok: false,
        name: "resume",
        detail: `GET events after ${lastSeq} failed: ${describeError(err)}`,
        fix: "the gateway went away or a proxy dropped the request: check the gateway's log",
      });
      break;
    }
    if (!more.ok) {
      report({
        ok: false,
        name: "resume",
        detail: `GET events after ${lastSeq} answered ${more.status}`,
        fix: 'the gateway must replay a run after Last-Event-ID (README, "HTTP API")',
      });
      await more.body?.cancel();
      break;
    }
    outcome = await readStream(more, onFrame, onComment, deadline);
  }

  report({
    ok: types.length > 0,
    name: "events arrive",
    detail: `${types.length} events: ${types.slice(0, 12).join(", ")}${
      types.length > 12 ? ", …" : ""
    }`,
    fix:
      "no event reached the client: check the workflow service and any proxy buffering (x-accel-buffering)",
  });
  const end = terminal as SseFrame | null;
  report({
    ok: end !== null && end.event === "workflow_complete",
    name: "terminal event",
    detail: end
      ? `${end.event}${end.event === "workflow_error" ? `: ${end.data.slice(0, 200)}` : ""}`
      : outcome === "timeout"
      ? `none within ${timeoutMs} ms`
      : "the stream ended without one",
    fix: end?.event === "workflow_error"
      ? "the run failed: read the error above and the workflow service's log"
      : "the run did not finish: check the workflow service and UPSTREAM_TIMEOUT_MS",
  });
  report({
    ok: heartbeats > 0,
    name: "heartbeat",
    detail: heartbeats > 0 ? `${heartbeats} seen` : "none seen during the run",
    fix:
      "heartbeats come every HEARTBEAT_MS of silence; a proxy that buffers responses hides them (set HEARTBEAT_MS lower to check)",
  });
}
