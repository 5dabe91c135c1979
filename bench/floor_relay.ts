/**
 * The benchmark's floor: the least a relay on Deno can do, for comparison with the real gateway
 * (`--floor` rounds). `POST /agui` opens the fake upstream's `/execute` over the same HTTP/1.1
 * socket client the gateway uses and forwards each read's bytes as one write, with a heartbeat
 * timer: no parsing, no validation, no run log, no ids. What this costs per event and per open
 * stream is Deno's own share (its HTTP server, streams and sockets), which no gateway built on
 * `Deno.serve` (as Deno Deploy requires) can go below. `GET /health` answers 200. It prints
 * nothing; `PORT` and `WORKFLOW_SERVICE_URL` come from the environment like the gateway's.
 *
 * With `FLOOR_DURABLE=1` it is the **durable floor**: the same relay that also writes each
 * upstream read to Deno KV (`KV_PATH`, a temp file) and forwards the read only once that write is
 * committed. Reads of every stream that arrive while a commit is in flight share the next one
 * (group commit, as the gateway does), with no head, no check and no parsing: the least a relay
 * on Deno that logs before it delivers pays here (on disk, each commit's fsync).
 * @module
 */
import { http1Fetch } from "../lib/gateway/upstream_http1.ts";

const upstream = Deno.env.get("WORKFLOW_SERVICE_URL")!;
const heartbeatMs = Number(Deno.env.get("HEARTBEAT_MS") ?? 15_000);
const enc = new TextEncoder();
const heartbeat = enc.encode(": heartbeat\n\n");
const kv = Deno.env.get("FLOOR_DURABLE") === "1"
  ? await Deno.openKv(Deno.env.get("KV_PATH") ?? ":memory:")
  : undefined;

/** A read waiting for its commit. */
interface Pending {
  key: Deno.KvKey;
  value: Uint8Array;
  done: () => void;
  fail: (err: unknown) => void;
}

let pending: Pending[] = [];
let committing = false;

/** Resolves once `value` is committed, in one atomic operation with whatever else is waiting. */
function logRead(db: Deno.Kv, key: Deno.KvKey, value: Uint8Array): Promise<void> {
  return new Promise((done, fail) => {
    pending.push({ key, value, done, fail });
    if (!committing) flush(db);
  });
}

async function flush(db: Deno.Kv): Promise<void> {
  committing = true;
  while (pending.length > 0) {
    // Deno KV's limits on one operation: 1000 mutations, 800 KB.
    let bytes = 0;
    let n = 0;
    while (n < pending.length && n < 900 && bytes + pending[n].value.byteLength < 700_000) {
      bytes += pending[n++].value.byteLength;
    }
    const batch = pending.slice(0, Math.max(1, n));
    pending = pending.slice(batch.length);
    const op = db.atomic();
    for (const p of batch) op.set(p.key, p.value, { expireIn: 3_600_000 });
    try {
      await op.commit();
      for (const p of batch) p.done();
    } catch (err) {
      for (const p of batch) p.fail(err);
    }
  }
  committing = false;
}

async function relay(req: Request): Promise<Response> {
  const body = await req.json() as { graph_name: string; initial_state: unknown; run_id: string };
  const res = await http1Fetch(`${upstream}/execute`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify({
      graph_name: body.graph_name,
      initial_state: body.initial_state,
      thread_id: body.run_id,
    }),
  });
  const reader = res.body!.getReader();
  let timer: ReturnType<typeof setInterval> | undefined;
  let last = performance.now();
  let reads = 0;
  const runId = body.run_id;
  const out = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(enc.encode(": ok\n\n"));
      timer = setInterval(() => {
        if (performance.now() - last >= heartbeatMs) c.enqueue(heartbeat);
      }, heartbeatMs);
    },
    async pull(c) {
      const { done, value } = await reader.read();
      if (done) {
        clearInterval(timer);
        c.close();
        return;
      }
      if (kv) await logRead(kv, ["ev", runId, ++reads], value);
      last = performance.now();
      c.enqueue(value);
    },
    cancel() {
      clearInterval(timer);
      reader.cancel().catch(() => {});
    },
  });
  return new Response(out, { headers: { "content-type": "text/event-stream" } });
}

Deno.serve(
  { port: Number(Deno.env.get("PORT") ?? 8000), hostname: "127.0.0.1", onListen() {} },
  (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/health") {
      return new Response("{}", {
        headers: { "content-type": "application/json" },
      });
    }
    if (path === "/metrics") {
      return new Response(`process_heap_used_bytes ${Deno.memoryUsage().heapUsed}\n`);
    }
    if (req.method === "POST" && path === "/agui") return relay(req);
    return new Response("not found", { status: 404 });
  },
);
