/**
 * What one idle stream holds in the gateway's V8 heap, by kind of object: starts the fake
 * upstream and a gateway (or the floor relay) with the V8 inspector on, opens N idle streams
 * (the hold scenario's shape: one event each, then silence), and compares two heap snapshots
 * taken after a forced GC, before and with the streams open. Prints the heap per stream and the
 * object kinds that grew most (count and bytes per stream), so a change can be read per object.
 *
 * `deno run -A bench/heap_per_stream.ts [--streams=300] [--entry=main.ts|bench/floor_relay.ts]
 * [--top=40]`
 *
 * `--alloc` instead records what the opening burst ALLOCATES (a sampling heap profile through
 * the inspector, objects collected by scavenges and full GCs included, from the first open until
 * all streams are open): bytes per stream by allocating function, and by the nearest frame of
 * this project's code (lib/, routes/, main.ts), so the start path's garbage can be read by site.
 *
 * `--waiting` instead diffs the heap around N starts that wait for their turn: the gateway gets
 * `MAX_STARTING_RUNS=1` and the fake upstream holds its answer to every start for ten minutes, so
 * one start is in progress and the N others wait (what a burst of starts keeps alive per start
 * while it queues; `--hold-ms` after the last request was sent).
 *
 * What holds the objects the streams added (`heap_snapshot.ts`): `--holders` charges their bytes
 * to the nearest structure that holds them; `--retainers=<kind>` prints the retainer paths of a
 * few objects of that kind, or with `--retainer-depth=N` counts all of them by their first N
 * retainers; `--outgoing=<kind>` counts them by the closures they point to.
 * @module
 */
import { parseArgs } from "node:util";
import { readStream } from "./client.ts";
import { BENCH_GRAPH, wallNow } from "./fake_upstream.ts";
import { type Census, HeapGraph } from "./heap_snapshot.ts";
import { freePort, rssKb, spawnFake, spawnGateway } from "./proc.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    streams: { type: "string", default: "300" },
    entry: { type: "string", default: "main.ts" },
    top: { type: "string", default: "40" },
    heartbeat: { type: "string", default: "1000" },
    /** Count new objects whose census key contains this, by the closures they point to. */
    outgoing: { type: "string" },
    /** Print retainer paths of a few new objects whose census key contains this. */
    retainers: { type: "string" },
    /** With `--retainers`: count every such object by its first N retainers instead. */
    "retainer-depth": { type: "string", default: "0" },
    /** Retainers followed per step of a `--retainers` path. */
    fanout: { type: "string", default: "4" },
    /** Charge the bytes of new objects to the nearest structure that holds them. */
    holders: { type: "boolean", default: false },
    "hold-ms": { type: "string", default: "5000" },
    /** Profile allocations during the opening burst instead of diffing heap snapshots. */
    alloc: { type: "boolean", default: false },
    /**
     * `--alloc` leaves out what scavenges collected: what remains is what survived into the old
     * space (promoted, whether it died there later or is still alive), the RSS-relevant part.
     */
    "alloc-promoted": { type: "boolean", default: false },
    /** Sampling interval of `--alloc` (bytes). */
    "alloc-interval": { type: "string", default: "512" },
    /** Diff the heap around N starts waiting for their turn instead of N idle streams. */
    waiting: { type: "boolean", default: false },
  },
});
const N = Number(flags.streams);

/** A connection to the V8 inspector of a process. */
class Inspector {
  #ws: WebSocket;
  #id = 0;
  #pending = new Map<number, (v: unknown) => void>();
  #listeners = new Map<string, (params: Record<string, unknown>) => void>();
  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (e) => {
      const msg = JSON.parse(e.data as string);
      if (msg.id !== undefined) {
        this.#pending.get(msg.id)?.(msg.result ?? msg.error);
        this.#pending.delete(msg.id);
      } else this.#listeners.get(msg.method)?.(msg.params);
    };
  }
  static async connect(port: number): Promise<Inspector> {
    const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
    const ws = new WebSocket(list[0].webSocketDebuggerUrl);
    await new Promise((r, j) => {
      ws.onopen = r;
      ws.onerror = j;
    });
    return new Inspector(ws);
  }
  send(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = ++this.#id;
    this.#ws.send(JSON.stringify({ id, method, params }));
    return new Promise((r) => this.#pending.set(id, r));
  }
  on(method: string, f: (params: Record<string, unknown>) => void): void {
    this.#listeners.set(method, f);
  }
  close(): void {
    this.#ws.close();
  }
}

/** Script id → file name (from the debugger), to name closures by where they were defined. */
const scripts = new Map<string, string>();

/** Highest node id of the first snapshot: later ids are objects allocated since. */
let firstMaxId = 0;

/** Takes a heap snapshot after a forced GC; prints what the flags ask of a later one. */
async function snapshot(insp: Inspector): Promise<{ census: Census; total: number }> {
  await insp.send("HeapProfiler.collectGarbage");
  await insp.send("HeapProfiler.collectGarbage");
  let text = "";
  insp.on("HeapProfiler.addHeapSnapshotChunk", (p) => text += p.chunk as string);
  await insp.send("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
  const graph = new HeapGraph(JSON.parse(text), scripts, firstMaxId);
  text = "";
  if (firstMaxId === 0) {
    firstMaxId = graph.maxId;
    return graph.census();
  }
  const per = (rows: [string, number][], unit: (v: number) => string) => {
    for (const [k, v] of rows.slice(0, Number(flags.top))) console.log(`${unit(v)}  ${k}`);
  };
  const times = (v: number) => `${(v / N).toFixed(2).padStart(7)} ×`;
  if (flags.retainers) {
    const depth = Number(flags["retainer-depth"]);
    if (depth > 0) {
      console.log(`${flags.retainers} by their first ${depth} retainers:`);
      per(graph.retainerChains(flags.retainers, depth), times);
    } else {
      for (const line of graph.retainerPaths(flags.retainers, Number(flags.fanout))) {
        console.log(line);
      }
    }
  }
  if (flags.outgoing) {
    console.log(`${flags.outgoing} by the closures they point to:`);
    per(graph.closuresOf(flags.outgoing), times);
  }
  if (flags.holders) {
    console.log("bytes per stream of new objects, by the structure that holds them:");
    per(graph.bytesByHolder(), (v) => `${(v / N).toFixed(0).padStart(7)} B`);
  }
  return graph.census();
}

/** Memory of the process (KB): V8's view and the kernel's. */
async function memory(insp: Inspector, pid: number): Promise<Record<string, number>> {
  const r = await insp.send("Runtime.evaluate", {
    expression: "JSON.stringify(Deno.memoryUsage())",
    returnByValue: true,
  }) as { result: { value: string } };
  const m = JSON.parse(r.result.value) as Record<string, number>;
  const out: Record<string, number> = {};
  for (const k of ["heapUsed", "heapTotal", "external"]) out[k] = Math.round(m[k] / 1024);
  const sp = await insp.send("Runtime.evaluate", {
    expression: `import("node:v8").then((v8) => JSON.stringify(v8.getHeapSpaceStatistics()))`,
    returnByValue: true,
    awaitPromise: true,
  }) as { result: { value?: string } };
  if (sp.result.value) {
    for (const x of JSON.parse(sp.result.value)) {
      out[`${x.space_name}`] = Math.round(x.space_size / 1024);
    }
  }
  const smaps = await Deno.readTextFile(`/proc/${pid}/smaps_rollup`);
  for (const k of ["Rss", "Anonymous", "Shared_Clean", "Private_Clean", "Shared_Dirty"]) {
    out[k] = Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(smaps)?.[1]);
  }
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  for (const k of ["RssFile", "RssShmem"]) {
    out[k] = Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(status)?.[1]);
  }
  return out;
}

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

/** True for frames of this project's own code (not deno's, not node_modules). */
function ownFrame(url: string): boolean {
  return /\/(lib|routes)\/|\/main\.ts$/.test(url) && !url.includes("node_modules");
}

function frameName(f: ProfileNode["callFrame"]): string {
  const file = f.url.replace(/^.*\/(lib|routes|bench|ext|node_modules)\//, "$1/") || "(native)";
  return `${f.functionName || "(anonymous)"} ${file}:${f.lineNumber + 1}`;
}

/** Prints a sampling heap profile: per allocating frame, per nearest own frame, inclusive. */
function printAlloc(head: ProfileNode, top: number): void {
  const self = new Map<string, number>();
  const nearest = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const pairs = new Map<string, number>();
  let total = 0;
  const walk = (n: ProfileNode, own: string | undefined, stack: Set<string>): number => {
    const name = frameName(n.callFrame);
    const mine = ownFrame(n.callFrame.url) ? name : own;
    let sum = n.selfSize;
    if (n.selfSize > 0) {
      total += n.selfSize;
      self.set(name, (self.get(name) ?? 0) + n.selfSize);
      const key = mine ?? "(no own frame)";
      nearest.set(key, (nearest.get(key) ?? 0) + n.selfSize);
      const pair = `${key}  <-  ${name}`;
      pairs.set(pair, (pairs.get(pair) ?? 0) + n.selfSize);
    }
    const fresh = !stack.has(name);
    if (fresh) stack.add(name);
    for (const c of n.children) sum += walk(c, mine, stack);
    if (fresh) {
      stack.delete(name);
      if (ownFrame(n.callFrame.url)) inclusive.set(name, (inclusive.get(name) ?? 0) + sum);
    }
    return sum;
  };
  walk(head, undefined, new Set());
  const show = (title: string, m: Map<string, number>) => {
    console.log(title);
    for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      console.log(`${(v / 1024 / N).toFixed(2).padStart(8)} KB  ${k}`);
    }
  };
  console.log(`allocated during the opening burst: ${(total / 1024 / N).toFixed(1)} KB per stream`);
  show("by allocating frame:", self);
  show("by nearest own frame:", nearest);
  show("inclusive, own frames:", inclusive);
  show("nearest own frame <- allocating frame:", pairs);
}

/** Profiles what opening N streams allocates (`--alloc`). */
async function allocProfile(insp: Inspector): Promise<void> {
  await insp.send("HeapProfiler.enable");
  await insp.send("HeapProfiler.startSampling", {
    samplingInterval: Number(flags["alloc-interval"]),
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: !flags["alloc-promoted"],
  });
  const { opened } = await open(N, wallNow() + 1e9);
  await opened;
  await new Promise((r) => setTimeout(r, 500));
  const { profile } = await insp.send("HeapProfiler.stopSampling") as {
    profile: { head: ProfileNode };
  };
  printAlloc(profile.head, Number(flags.top));
  insp.close();
}

/** Diffs two heap snapshots around opening N idle streams (the default). */
async function diffSnapshots(insp: Inspector): Promise<void> {
  const m0 = await memory(insp, gw.pid);
  const a = await snapshot(insp);
  // Disconnected while the streams open and are held, so the RSS is the process's own.
  insp.close();
  await new Promise((r) => setTimeout(r, 200));
  const rss0 = rssKb(gw.pid);
  if (flags.waiting) {
    // One start takes the only place and waits on the service; the N after it queue.
    await open(N + 1, wallNow() + 1e9, true);
  } else await (await open(N, wallNow() + 1e9)).opened;
  await new Promise((r) => setTimeout(r, Number(flags["hold-ms"])));
  const rss1 = rssKb(gw.pid);
  insp = await Inspector.connect(inspectPort);
  // Read before the debugger is enabled (which allocates for every script).
  const m1 = await memory(insp, gw.pid);
  listen(insp);
  await insp.send("Debugger.enable");
  const b = await snapshot(insp);
  const m2 = await memory(insp, gw.pid);
  for (const k of Object.keys(m1)) {
    console.log(
      `  ${k.padEnd(12)} before ${String(m0[k]).padStart(7)} KB, held ${
        String(m1[k]).padStart(7)
      } KB (${((m1[k] - m0[k]) / N).toFixed(1)} KB/stream), after GC ${
        String(m2[k]).padStart(7)
      } KB (${((m2[k] - m0[k]) / N).toFixed(1)} KB/stream)`,
    );
  }
  console.log(
    `${flags.entry}: ${N} ${flags.waiting ? "waiting starts" : "idle streams"}: RSS ${
      ((rss1 - rss0) / N).toFixed(1)
    } KB per stream ` +
      `(held, like the bench's hold); V8 heap ${((b.total - a.total) / 1024 / N).toFixed(2)} KB ` +
      "per stream after GC",
  );
  const rows: [string, number, number][] = [];
  for (const [k, v] of b.census) {
    const before = a.census.get(k) ?? { count: 0, bytes: 0 };
    const dc = (v.count - before.count) / N, db = (v.bytes - before.bytes) / N;
    if (Math.abs(db) >= 8 || Math.abs(dc) >= 0.5) rows.push([k, dc, db]);
  }
  rows.sort((x, y) => y[2] - x[2]);
  for (const [k, dc, db] of rows.slice(0, Number(flags.top))) {
    console.log(`${db.toFixed(0).padStart(7)} B ${dc.toFixed(2).padStart(7)} ×  ${k}`);
  }
  insp.close();
}

const fake = await spawnFake();
const dir = await Deno.makeTempDir();
const inspectPort = freePort();
Deno.env.set("BENCH_GATEWAY_FLAGS", `--inspect=127.0.0.1:${inspectPort}`);
const gw = await spawnGateway({
  WORKFLOW_SERVICE_URL: fake.url,
  KV_PATH: `${dir}/runs.kv`,
  HEARTBEAT_MS: flags.heartbeat,
  RATE_LIMIT_PER_MINUTE: "0",
  RATE_LIMIT_EVENTS_PER_MINUTE: "0",
  RATE_LIMIT_ACTIONS_PER_MINUTE: "0",
  MAX_STREAMS_PER_CLIENT: "0",
  ...(flags.waiting ? { MAX_STARTING_RUNS: "1", UPSTREAM_TIMEOUT_MS: "600000" } : {}),
}, flags.entry);
const ac = new AbortController();
let counter = 0;
async function open(
  n: number,
  startAt: number,
  hang = false,
): Promise<{ opened: Promise<void>; done: Promise<unknown> }> {
  let opened = 0;
  let all!: () => void;
  const p = new Promise<void>((r) => all = r);
  const tasks = [];
  for (let i = 0; i < n; i++) {
    // Opened in waves of 100, like the bench's hold.
    if (i % 100 === 99) await new Promise((r) => setTimeout(r, 20));
    tasks.push(readStream({
      url: `${gw.url}/agui`,
      body: {
        graph_name: BENCH_GRAPH,
        initial_state: { count: 1, rate: 1, startAt, ...(hang ? { hangMs: 600_000 } : {}) },
        run_id: `hs${Date.now().toString(36)}-${counter++}`,
      },
      expected: 1,
      signal: ac.signal,
      onOpen: () => {
        if (++opened === n) all();
      },
    }));
  }
  return { opened: p, done: Promise.all(tasks) };
}
const listen = (i: Inspector) =>
  i.on("Debugger.scriptParsed", (p) => scripts.set(p.scriptId as string, p.url as string));
try {
  const insp = await Inspector.connect(inspectPort);
  listen(insp);
  await insp.send("Debugger.enable");
  // Warm: a few streams that run to their end.
  await (await open(10, wallNow())).done;
  await new Promise((r) => setTimeout(r, 500));
  if (flags.alloc) await allocProfile(insp);
  else await diffSnapshots(insp);
} finally {
  ac.abort();
  await gw.stop();
  await fake.stop();
  await Deno.remove(dir, { recursive: true });
}
