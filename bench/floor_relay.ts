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
 * committed, and that starts a run only once its record (the request's body, under a check that
 * the run id is free) is committed: what a run that outlives its process and is never launched
 * twice needs before the upstream call. Reads and starts of every stream that arrive while a
 * commit is in flight share the next one (group commit, as the gateway does), with no head, no
 * check of a read's commit and no parsing: the least a relay on Deno that logs before it
 * delivers pays here (on disk, each commit's fsync). Its layout is
 * the cheapest known here, the gateway's: a stream's newest reads are rewritten in place in one
 * small row (`["tail", run]`), and move to a row of their own (`["ev", run, n]`) only when the
 * next read does not fit beside them (a rewrite changes one B-tree cell; a new row inserts two
 * entries, the row and its expiry index entry).
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

/** Bytes a stream's tail row holds at most (one SQLite cell). */
const TAIL_BYTES = 640;
/** Every row expires, as the gateway's do. */
const EXPIRE = { expireIn: 3_600_000 };

/** A read waiting for its commit: the rows it writes. */
interface Pending {
  /** Keys that must not exist yet (a start's run key). */
  absent?: Deno.KvKey[];
  sets: Array<[Deno.KvKey, Uint8Array]>;
  bytes: number;
  done: () => void;
  fail: (err: unknown) => void;
}

/** One stream's log state: its rows so far and the reads its tail row holds. */
interface StreamLog {
  runId: string;
  rows: number;
  tail: Uint8Array;
}

let pending: Pending[] = [];
let committing = false;

/** Resolves once `value` is committed, in one atomic operation with whatever else is waiting. */
function logRead(db: Deno.Kv, log: StreamLog, value: Uint8Array): Promise<void> {
  const sets: Array<[Deno.KvKey, Uint8Array]> = [];
  if (log.tail.byteLength + value.byteLength <= TAIL_BYTES) {
    const tail = new Uint8Array(log.tail.byteLength + value.byteLength);
    tail.set(log.tail);
    tail.set(value, log.tail.byteLength);
    log.tail = tail;
  } else {
    if (log.tail.byteLength > 0) sets.push([["ev", log.runId, ++log.rows], log.tail]);
    if (value.byteLength <= TAIL_BYTES) log.tail = value;
    else {
      sets.push([["ev", log.runId, ++log.rows], value]);
      log.tail = new Uint8Array(0);
    }
  }
  sets.push([["tail", log.runId], log.tail]);
  return submit(db, { sets, bytes: value.byteLength + log.tail.byteLength });
}

/**
 * Resolves once run `runId`'s record (the start's request body) is committed, refused if the
 * run exists: what a durable start needs before it calls the upstream (a retry attaches
 * instead of launching the run twice; another process can find and rejoin it).
 */
function logStart(db: Deno.Kv, runId: string, request: Uint8Array): Promise<void> {
  const key = ["run", runId];
  return submit(db, { absent: [key], sets: [[key, request]], bytes: request.byteLength });
}

function submit(db: Deno.Kv, p: Pick<Pending, "absent" | "sets" | "bytes">): Promise<void> {
  return new Promise((done, fail) => {
    pending.push({ ...p, done, fail });
    if (!committing) flush(db);
  });
}

async function flush(db: Deno.Kv): Promise<void> {
  committing = true;
  while (pending.length > 0) {
    // Deno KV's limits on one operation: 1000 mutations, 100 checks, 800 KB.
    let bytes = 0;
    let checks = 0;
    let n = 0;
    while (
      n < pending.length && n < 300 && bytes + pending[n].bytes < 700_000 &&
      checks + (pending[n].absent?.length ?? 0) <= 100
    ) {
      checks += pending[n].absent?.length ?? 0;
      bytes += pending[n++].bytes;
    }
    const batch = pending.slice(0, Math.max(1, n));
    pending = pending.slice(batch.length);
    const op = db.atomic();
    for (const p of batch) {
      for (const key of p.absent ?? []) op.check({ key, versionstamp: null });
      for (const [key, value] of p.sets) op.set(key, value, EXPIRE);
    }
    try {
      const res = await op.commit();
      if (!res.ok) throw new Error("a run id in use");
      for (const p of batch) p.done();
    } catch (err) {
      for (const p of batch) p.fail(err);
    }
  }
  committing = false;
}

async function relay(req: Request): Promise<Response> {
  const raw = new Uint8Array(await req.arrayBuffer());
  const body = JSON.parse(new TextDecoder().decode(raw)) as {
    graph_name: string;
    initial_state: unknown;
    run_id: string;
  };
  if (kv) await logStart(kv, body.run_id, raw);
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
  const log: StreamLog = { runId: body.run_id, rows: 0, tail: new Uint8Array(0) };
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
      if (kv) await logRead(kv, log, value);
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
