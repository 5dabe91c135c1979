/**
 * Where the gateway's main thread spends its time (or what it allocates) under one bench
 * scenario: runs `deno task bench` for the gateway alone with the V8 inspector on, records a
 * sampling CPU profile (or, with `--heap`, a sampling heap profile that keeps objects collected by
 * minor and major GCs) over the whole run, writes it (`--out`, a `.cpuprofile` Chrome DevTools
 * opens, or a `.heapprofile`) and prints the top functions by self and by total time (or bytes).
 *
 * `deno run -A bench/cpu_profile.ts [--only=s2] [--heap] [--ms=11000] [--out=FILE] [--top=40]
 * [-- bench flags]`: `--ms` is how long it records from the gateway's start (its warm-up and
 * one round; the gateway must still be up when it ends).
 *
 * Time the main thread spends in Deno's Rust (socket and KV ops finishing, the HTTP server) shows
 * only as the op calls' own share or as `(idle)`; per-thread CPU comes from the bench's
 * `BENCH_THREADS=1`. The inspector slows the gateway down a little: compare profiles with
 * profiles, not with the table.
 * @module
 */
import { parseArgs } from "node:util";
import { freePort } from "./proc.ts";

const { values: flags, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    only: { type: "string", default: "s2" },
    heap: { type: "boolean", default: false },
    out: { type: "string" },
    top: { type: "string", default: "40" },
    ms: { type: "string", default: "11000" },
  },
});

/** A profile node as both profilers report it (CPU nodes are flat, heap nodes nested). */
interface Frame {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: Array<number | Frame>;
  selfSize?: number;
}

const port = freePort();
const bench = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "-A",
    new URL("./main.ts", import.meta.url).pathname,
    `--only=${flags.only}`,
    "--rounds=1",
    "--nginx=false",
    "--peer=false",
    "--floor=false",
    "--durable=false",
    ...positionals,
  ],
  env: { BENCH_GATEWAY_FLAGS: `--inspect=127.0.0.1:${port}` },
  stdout: "inherit",
  stderr: "inherit",
}).spawn();

const ws = await attach();
let nextId = 0;
const pending = new Map<number, (v: Record<string, unknown>) => void>();
ws.onmessage = (e) => {
  const m = JSON.parse(e.data as string);
  if (m.id !== undefined) pending.get(m.id)?.(m.result ?? {});
};
const send = (method: string, params: Record<string, unknown> = {}) =>
  new Promise<Record<string, unknown>>((resolve) => {
    pending.set(++nextId, resolve);
    ws.send(JSON.stringify({ id: nextId, method, params }));
  });

if (flags.heap) {
  await send("HeapProfiler.enable");
  await send("HeapProfiler.startSampling", {
    samplingInterval: 4096,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
} else {
  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: 100 });
  await send("Profiler.start");
}
// The bench stops the gateway right after its rounds: profile a fixed span from the start
// (the warm-up and the round of one scenario take ~10 s for S2 and S3 at their defaults).
await new Promise((r) => setTimeout(r, Number(flags.ms)));
const { profile } = await send(flags.heap ? "HeapProfiler.stopSampling" : "Profiler.stop") as {
  profile: Record<string, unknown>;
};
ws.close();
await bench.status;
const kind = flags.heap ? "heap" : "cpu";
const out = flags.out ?? `${kind}-${flags.only}.${kind}profile`;
await Deno.writeTextFile(out, JSON.stringify(profile));
console.log(`profile written to ${out}`);
report(profile, Number(flags.top));

async function attach(): Promise<WebSocket> {
  const t0 = Date.now();
  for (;;) {
    try {
      const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
      const sock = new WebSocket(list[0].webSocketDebuggerUrl);
      await new Promise((resolve, reject) => {
        sock.onopen = resolve;
        sock.onerror = reject;
      });
      return sock;
    } catch {
      if (Date.now() - t0 > 60_000) throw new Error("the gateway's inspector did not come up");
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function report(p: Record<string, unknown>, top: number): void {
  const name = (f: Frame) =>
    `${f.callFrame.functionName || "(anonymous)"} ${
      f.callFrame.url.replace(
        /^file:\/\/.*?\/(lib|routes|bench|main\.ts|node_modules\/\.deno)/,
        "$1",
      )
    }:${f.callFrame.lineNumber + 1}`;
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let all = 0;
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  if (flags.heap) {
    const walk = (f: Frame, stack: Set<string>): number => {
      const k = name(f);
      let t = f.selfSize ?? 0;
      add(self, k, t);
      all += t;
      const inner = new Set(stack).add(k);
      for (const c of f.children ?? []) t += walk(c as Frame, inner);
      if (!stack.has(k)) add(total, k, t);
      return t;
    };
    walk(p.head as Frame, new Set());
  } else {
    const nodes = p.nodes as Frame[];
    const byId = new Map(nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of nodes) for (const c of n.children ?? []) parent.set(c as number, n.id);
    const samples = p.samples as number[];
    const deltas = p.timeDeltas as number[];
    for (let i = 0; i < samples.length; i++) {
      const dt = deltas[i + 1] ?? 0;
      const leaf = byId.get(samples[i])!;
      if (leaf.callFrame.functionName === "(idle)") continue;
      all += dt;
      add(self, name(leaf), dt);
      const seen = new Set<string>();
      for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
        const k = name(byId.get(id)!);
        if (!seen.has(k)) add(total, k, dt);
        seen.add(k);
      }
    }
  }
  const unit = flags.heap
    ? (v: number) => `${(v / 1e6).toFixed(2)} MB`
    : (v: number) => `${(v / 1000).toFixed(1)} ms`;
  console.log(`${flags.heap ? "allocated" : "busy (not idle)"}: ${unit(all)}`);
  for (const [title, m] of [["self", self], ["total", total]] as const) {
    console.log(`\n-- by ${title}`);
    for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      console.log(`${unit(v).padStart(11)} ${(100 * v / all).toFixed(1).padStart(5)}%  ${k}`);
    }
  }
}
