/**
 * `deno run -A bench/store_path.ts [--runs=50 --events=100 --rate=0 --kv=file|memory]`: CPU per
 * event of the run log's own path, without HTTP: `runs` runs each append one event at a time
 * (`--rate` per second per run, phases spread like the bench's S3; 0 = as fast as commits go)
 * while one subscriber per run reads it live. Prints CPU µs per event (all threads of this
 * process, from `/proc/self/task`), KV commits per event, the time from an append call to the
 * subscriber having the event (p50 / p99) and the wall time. Less noisy than `deno task bench`
 * on a busy machine, so a change to `lib/runs` can be compared before/after; it is not what the
 * table reports.
 * @module
 */
import { parseArgs } from "node:util";
import { KvRunStore } from "../lib/runs/kv_store.ts";
import type { RunSummary } from "../lib/events.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "50" },
    events: { type: "string", default: "100" },
    kv: { type: "string", default: "file" },
    rate: { type: "string", default: "0" },
  },
});
const RUNS = Number(values.runs);
const EVENTS = Number(values.events);
/** Events per second per run (0: each run appends as soon as its last append is committed). */
const RATE = Number(values.rate);

function cpuNs(): number {
  let total = 0;
  for (const t of Deno.readDirSync("/proc/self/task")) {
    try {
      total += Number(Deno.readTextFileSync(`/proc/self/task/${t.name}/schedstat`).split(" ")[0]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return total;
}

/** Bytes this process had written to storage so far (`/proc/self/io`; WAL and checkpoints). */
function writtenBytes(): number {
  const m = /write_bytes: (\d+)/.exec(Deno.readTextFileSync("/proc/self/io"));
  return m ? Number(m[1]) : NaN;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))] ?? NaN;
}

const dir = await Deno.makeTempDir({ prefix: "wfs-store-path-" });
const kv = await Deno.openKv(values.kv === "memory" ? ":memory:" : `${dir}/runs.kv`);
const store = new KvRunStore(kv, { ttlHours: 1, watch: false, ownsKv: true });
try {
  const now = new Date().toISOString();
  const ids = Array.from({ length: RUNS }, (_, i) => `p${i}`);
  await Promise.all(ids.map((id) =>
    store.create(
      {
        id,
        graph: "bench",
        dialect: "workflow",
        status: "running",
        createdAt: now,
        updatedAt: now,
        eventCount: 0,
      } satisfies RunSummary,
    )
  ));
  const data = (id: string, n: number) =>
    `{"workflowId":"${id}","ts":"2026-01-01T00:00:00.000Z","step":"s","n":${n},"t":${
      (performance.timeOrigin + performance.now()).toFixed(3)
    }}`;
  const stats0 = { ...store.commitStats };
  /** Append called → subscriber has it (ms), per step event. */
  const lat: number[] = [];
  const c0 = cpuNs();
  const w0 = writtenBytes();
  const t0 = performance.now();
  const readers = ids.map(async (id) => {
    let got = 0;
    for await (const batch of store.subscribe(id, 0)) {
      got += batch.length;
      const now = performance.timeOrigin + performance.now();
      for (const ev of batch) {
        if (ev.type === "step_started") lat.push(now - JSON.parse(ev.data).t);
      }
      if (batch[batch.length - 1].type === "workflow_complete") break;
    }
    return got;
  });
  const start = performance.now() + 50;
  const interval = RATE > 0 ? 1000 / RATE : 0;
  await Promise.all(ids.map(async (id, i) => {
    for (let n = 0; n < EVENTS; n++) {
      if (RATE > 0) {
        // Paced like the bench's S3: phases spread over one interval.
        const due = start + (i * interval) / RUNS + n * interval - performance.now();
        if (due > 0) await new Promise((r) => setTimeout(r, due));
      }
      await store.append(id, [{ type: "step_started", data: data(id, n) }], { status: "running" });
    }
    await store.append(id, [{ type: "workflow_complete", data: `{"workflowId":"${id}"}` }]);
  }));
  const got = await Promise.all(readers);
  const wall = performance.now() - t0;
  const cpu = cpuNs() - c0;
  const written = writtenBytes() - w0;
  const events = RUNS * (EVENTS + 1);
  if (got.some((g) => g !== EVENTS + 1)) throw new Error(`a reader missed events: ${got}`);
  const commits = store.commitStats.commits - stats0.commits;
  console.log(
    `${RUNS} runs × ${EVENTS + 1} events (${values.kv}): ${
      (cpu / 1000 / events).toFixed(1)
    } µs CPU ` +
      `per event, ${(commits / events).toFixed(3)} commits per event, append → subscriber ` +
      `p50 ${pct(lat, 50).toFixed(2)} / p99 ${pct(lat, 99).toFixed(2)} ms, ${
        (written / events / 1024).toFixed(1)
      } KB written to disk per event, ${wall.toFixed(0)} ms`,
  );
} finally {
  await store.close();
  await Deno.remove(dir, { recursive: true });
}
