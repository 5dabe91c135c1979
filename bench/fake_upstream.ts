/**
 * The benchmark's fake workflow service, run as its own process (`deno run -A
 * bench/fake_upstream.ts`) so producing events never steals the measuring client's event loop.
 * It speaks the workflow service contract: `GET /health`, `GET /graphs` (one graph,
 * `bench`), `POST /execute` (SSE) and `POST /abort`. On start it prints one JSON line
 * `{"port": N}` on stdout.
 *
 * What `/execute` streams is chosen by `initial_state` (see {@link StreamPlan}): a
 * `workflow_initialized`, then `count` `step_started` events whose data carries `n` (0-based
 * order, for lost/duplicate counting) and `t` (send time in ms since the epoch with sub-ms
 * precision, `performance.timeOrigin + performance.now()`, comparable across processes on one
 * machine), then `workflow_complete`. `rate` 0 means full speed (whole batches of frames per
 * write, with backpressure); otherwise events are paced at `rate` per second from `startAt`.
 * @module
 */

/** What one `/execute` call streams (the `initial_state` of the request). */
export interface StreamPlan {
  /** Number of `step_started` events between the first and the terminal event. */
  count: number;
  /** Events per second; 0 = as fast as the reader takes them. */
  rate: number;
  /** Wall-clock ms (epoch) at which the first paced event is due (default: on arrival). */
  startAt?: number;
  /** Bytes of padding in each event's data (default 0), to model bigger events. */
  pad?: number;
}

/** The graph the fake offers. */
export const BENCH_GRAPH = "bench";
/** The fixed `ts` of the fake's events (the relay does not care about its value). */
const TS = "2026-01-01T00:00:00.000Z";
/** Frames per write at full speed. */
const FULL_SPEED_BATCH = 128;

const enc = new TextEncoder();
const origin = performance.timeOrigin;

/** Wall-clock ms with sub-ms precision, on the same clock as every other bench process. */
export function wallNow(): number {
  return origin + performance.now();
}

/**
 * One `step_started` frame with order `n`, sent at `t`. Its `id:` is the service's sequence in
 * the thread (the initial frame is 1), as the workflow contract asks, so the gateway records
 * upstream ids as it would for a real service.
 */
export function stepFrame(prefix: string, n: number, t: number, pad: string): string {
  return "id: " + (n + 2) + "\n" + prefix + n + ',"t":' + t.toFixed(3) + pad + "}\n\n";
}

interface Paced {
  controller: ReadableStreamDefaultController<Uint8Array>;
  plan: StreamPlan;
  prefix: string;
  pad: string;
  sent: number;
  start: number;
  interval: number;
  closed: boolean;
  id: string;
}

const paced = new Set<Paced>();
let ticker: ReturnType<typeof setInterval> | undefined;

function tick(): void {
  const now = wallNow();
  for (const p of paced) {
    if (p.closed) {
      paced.delete(p);
      continue;
    }
    let out = "";
    while (p.sent < p.plan.count && p.start + p.sent * p.interval <= now) {
      out += stepFrame(p.prefix, p.sent++, wallNow(), p.pad);
    }
    if (p.sent >= p.plan.count) {
      out += terminalFrame(p.id, p.sent);
      paced.delete(p);
      p.closed = true;
      p.controller.enqueue(enc.encode(out));
      p.controller.close();
      continue;
    }
    if (out !== "") p.controller.enqueue(enc.encode(out));
  }
  if (paced.size === 0 && ticker !== undefined) {
    clearInterval(ticker);
    ticker = undefined;
  }
}

function initialFrame(id: string): string {
  return `id: 1\nevent: workflow_initialized\ndata: {"workflowId":${
    JSON.stringify(id)
  },"ts":"${TS}",` +
    `"graph":"${BENCH_GRAPH}"}\n\n`;
}

function terminalFrame(id: string, count: number): string {
  return `id: ${count + 2}\nevent: workflow_complete\ndata: {"workflowId":${
    JSON.stringify(id)
  },"ts":"${TS}",` +
    `"status":"complete","result":{"count":${count}}}\n\n`;
}

function parsePlan(state: Record<string, unknown>): StreamPlan {
  const num = (v: unknown, d: number) => (typeof v === "number" && Number.isFinite(v) ? v : d);
  return {
    count: Math.max(0, Math.floor(num(state.count, 100))),
    rate: Math.max(0, num(state.rate, 0)),
    startAt: typeof state.startAt === "number" ? state.startAt : undefined,
    pad: Math.max(0, Math.floor(num(state.pad, 0))),
  };
}

function execute(id: string, plan: StreamPlan): ReadableStream<Uint8Array> {
  const prefix = `event: step_started\ndata: {"workflowId":${JSON.stringify(id)},"ts":"${TS}",` +
    `"step":"s","n":`;
  const pad = plan.pad ? `,"pad":"${"x".repeat(plan.pad)}"` : "";
  if (plan.rate === 0) {
    let sent = 0;
    let started = false;
    return new ReadableStream<Uint8Array>({
      pull(c) {
        let out = "";
        if (!started) {
          started = true;
          out = initialFrame(id);
        }
        const end = Math.min(plan.count, sent + FULL_SPEED_BATCH);
        const t = wallNow();
        while (sent < end) out += stepFrame(prefix, sent++, t, pad);
        if (sent >= plan.count) {
          out += terminalFrame(id, sent);
          c.enqueue(enc.encode(out));
          c.close();
          return;
        }
        c.enqueue(enc.encode(out));
      },
    }, { highWaterMark: 1 });
  }
  let state: Paced;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(enc.encode(initialFrame(id)));
      state = {
        controller,
        plan,
        prefix,
        pad,
        sent: 0,
        start: plan.startAt ?? wallNow(),
        interval: 1000 / plan.rate,
        closed: false,
        id,
      };
      paced.add(state);
      ticker ??= setInterval(tick, 1);
    },
    cancel() {
      state.closed = true;
    },
  });
}

const GRAPHS = {
  graphs: [{
    name: BENCH_GRAPH,
    title: "Benchmark",
    domain: "bench",
    description: "Timestamped step events for deno task bench",
  }],
};

async function handle(req: Request): Promise<Response> {
  const url = new URL(req.url);
  if (req.method === "GET" && url.pathname === "/health") {
    return Response.json({ status: "ok" });
  }
  if (req.method === "GET" && url.pathname === "/graphs") return Response.json(GRAPHS);
  if (req.method === "POST" && url.pathname === "/release") {
    // The hold scenario: every paced stream still waiting for its start begins now (staggered
    // over `spread` ms), so idle streams end when the benchmark says, not on a guessed clock.
    const spread = Number(url.searchParams.get("spread") ?? "500");
    const now = wallNow();
    const waiting = [...paced].filter((p) => p.start > now);
    waiting.forEach((p, i) => p.start = now + (spread * i) / Math.max(1, waiting.length));
    return Response.json({ released: waiting.length });
  }
  if (req.method === "POST" && url.pathname === "/abort") {
    await req.body?.cancel();
    return Response.json({ ok: true });
  }
  if (req.method === "POST" && url.pathname === "/execute") {
    const body = await req.json() as {
      thread_id?: string;
      initial_state?: Record<string, unknown>;
    };
    const id = String(body.thread_id ?? crypto.randomUUID());
    // A service slow to answer a start (`heap_per_stream.ts --waiting`): no answer for this long.
    const hangMs = Number(body.initial_state?.hangMs ?? 0);
    if (hangMs > 0) await new Promise((r) => setTimeout(r, hangMs));
    const stream = execute(id, parsePlan(body.initial_state ?? {}));
    return new Response(stream, {
      headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
    });
  }
  return Response.json({ error: "not_found", message: "Not found" }, { status: 404 });
}

if (import.meta.main) {
  const server = Deno.serve({
    port: 0,
    hostname: "127.0.0.1",
    onListen(addr) {
      console.log(JSON.stringify({ port: addr.port }));
    },
  }, handle);
  Deno.addSignalListener("SIGTERM", () => {
    server.shutdown().finally(() => Deno.exit(0));
  });
}
