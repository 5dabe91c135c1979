/**
 * How long the main thread is held by the call that issues a Deno KV atomic write
 * (`op.commit()` up to the promise it returns), apart from the wait for the commit itself: with
 * nothing in flight (each commit awaited before the next, as a relay at a low rate does) and with
 * one commit in flight while the next is issued. A CPU profile charges that part to
 * `op_kv_atomic_write`'s self time (docs/performance.md, item 52).
 *
 * `deno run -A --unstable-kv bench/kv_commit_sync.ts [--dir=/tmp] [--commits=2000]`
 * @module
 */
import { parseArgs } from "node:util";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    dir: { type: "string", default: "/tmp" },
    commits: { type: "string", default: "2000" },
  },
});
const commits = Number(flags.commits);
const dir = await Deno.makeTempDir({ dir: flags.dir, prefix: "kv_commit_sync_" });
const kv = await Deno.openKv(`${dir}/kv.sqlite3`);
// A run head's size and shape (a tail of packed events, a few numbers and an owner).
const head = { seq: 1, tail: "step_started\n{}\n".repeat(38), at: 0, owner: "o", exp: 0 };

const q = (a: number[], f: number) => a[Math.min(a.length - 1, Math.floor(a.length * f))];

async function measure(label: string, overlap: boolean, mutations: number): Promise<void> {
  const held: number[] = [];
  const whole: number[] = [];
  let inFlight: Promise<unknown> | undefined;
  for (let i = 0; i < commits; i++) {
    const op = kv.atomic();
    for (let m = 0; m < mutations; m++) {
      op.set(["head", `r${(i + m) % 50}`], { ...head, at: i }, { expireIn: 86_400_000 });
    }
    const t0 = performance.now();
    const done = op.commit();
    held.push((performance.now() - t0) * 1000);
    if (overlap) {
      if (inFlight) await inFlight;
      inFlight = done;
    } else {
      await done;
      whole.push((performance.now() - t0) * 1000);
    }
  }
  await inFlight;
  held.sort((a, b) => a - b);
  whole.sort((a, b) => a - b);
  const w = whole.length > 0 ? `; whole commit p50 ${q(whole, 0.5).toFixed(0)} µs` : "";
  console.log(
    `${label}: call holds the main thread p50 ${q(held, 0.5).toFixed(1)}, p90 ` +
      `${q(held, 0.9).toFixed(1)}, p99 ${q(held, 0.99).toFixed(1)} µs${w}`,
  );
}

try {
  await measure("1 set, nothing in flight", false, 1);
  await measure("3 sets, nothing in flight", false, 3);
  await measure("1 set, one commit in flight", true, 1);
  await measure("3 sets, one commit in flight", true, 3);
} finally {
  kv.close();
  await Deno.remove(dir, { recursive: true });
}
