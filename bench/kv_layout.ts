/**
 * What one append's rows cost a Deno KV commit on a file, by layout: bytes the process writes
 * per commit (from `/proc/self/io`'s `wchar`: WAL frames of 4 KiB pages, so this counts the
 * B-tree pages a commit dirties) and the commit time's spread (p50, p99, share over 1 and 2 ms).
 * Each commit carries `--runs` runs' appends of one ~200-byte event, one after the other, like
 * the gateway's S3 shape. Layouts:
 *
 * - `page+head`: a new page row per append plus the head rewritten (the run log until this round);
 * - `tail`: the head rewritten with the newest events in it, a page row once ~640 characters
 *   piled up there (`lib/runs/kv_tail.ts`);
 * - `head`: the head alone (the least an append that moves a head can write).
 *
 * `deno run -A --unstable-kv bench/kv_layout.ts [--commits=3000] [--runs=2] [--streams=50]`
 * @module
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    commits: { type: "string", default: "3000" },
    runs: { type: "string", default: "2" },
    streams: { type: "string", default: "50" },
  },
});
const COMMITS = Number(values.commits);
const RUNS = Number(values.runs);
const STREAMS = Number(values.streams);
const EVENT = JSON.stringify({ workflowId: "x".repeat(36), ts: new Date().toISOString(), n: 0 })
  .padEnd(200, " ");

function wchar(): number {
  const io = Deno.readTextFileSync("/proc/self/io");
  return Number(/^wchar: (\d+)$/m.exec(io)![1]);
}

async function measure(layout: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "kv_layout_" });
  const kv = await Deno.openKv(`${dir}/log.kv`);
  try {
    const exp = Date.now() + 3_600_000;
    const seqs = new Array<number>(STREAMS).fill(0);
    const tails = new Array<string>(STREAMS).fill("");
    const times: number[] = [];
    const w0 = wchar();
    for (let i = 0; i < COMMITS; i++) {
      const op = kv.atomic();
      for (let k = 0; k < RUNS; k++) {
        const r = (i * RUNS + k) % STREAMS;
        const id = `run-${r}-${"0".repeat(30)}`;
        const seq = ++seqs[r];
        const expireIn = exp - Date.now();
        const head = {
          seq,
          done: false,
          exp,
          at: Date.now(),
          owner: crypto.randomUUID(),
          up: `${seq}`,
        };
        if (layout === "page+head") op.set(["ev", id, seq], EVENT, { expireIn });
        if (layout === "tail") {
          const text = `step_started\n${EVENT}\n`;
          if (tails[r].length + text.length > 640) {
            op.set(["ev", id, seq - 1], tails[r], { expireIn });
            tails[r] = "";
          }
          tails[r] += text;
          Object.assign(head, { tail: tails[r] });
        }
        op.set(["head", id], head, { expireIn });
      }
      const t = performance.now();
      await op.commit();
      times.push(performance.now() - t);
    }
    const written = (wchar() - w0) / COMMITS / 1024;
    times.sort((a, b) => a - b);
    const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
    const over = (ms: number) => (100 * times.filter((t) => t > ms).length / times.length);
    return `| ${layout} | ${written.toFixed(1)} | ${at(0.5).toFixed(3)} | ${
      at(0.99).toFixed(3)
    } | ` +
      `${over(1).toFixed(2)} % | ${over(2).toFixed(2)} % |`;
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
}

console.log(`${COMMITS} commits of ${RUNS} runs' one-event appends, ${STREAMS} runs in turn`);
console.log("| layout | KB written per commit | p50 (ms) | p99 (ms) | over 1 ms | over 2 ms |");
console.log("|---|---|---|---|---|---|");
for (const layout of ["page+head", "tail", "head"]) console.log(await measure(layout));
