/**
 * What the writer cache (`lib/runs/kv_head.ts`) costs a process past its bound: fills a cache to
 * `MAX_WRITERS` runs, then remembers `--runs` new runs, each followed by one append's remember,
 * as a relay that keeps starting runs does, and prints the time per new run. With
 * `--root=<another checkout>/` the same for that checkout's cache, alternating, for a
 * before/after.
 *
 * `deno run -A --unstable-kv bench/writer_cache.ts [--runs=20000] [--rounds=3] [--root=DIR/]`
 * @module
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "20000" },
    rounds: { type: "string", default: "3" },
    root: { type: "string" },
  },
});
const RUNS = Number(values.runs);
const here = new URL("../", import.meta.url).href;
const roots = values.root ? [here, new URL(values.root, `file://${Deno.cwd()}/`).href] : [here];

interface Cache {
  remember(id: string, st: unknown): void;
}
type CacheClass = new (kv: Deno.Kv, now: () => number) => Cache;

const classes: CacheClass[] = [];
/** Each checkout's bound (1,024 before it was exported). */
const bounds: number[] = [];
for (const root of roots) {
  const mod = await import(new URL("lib/runs/kv_head.ts", root).href);
  classes.push(mod.WriterCache as CacheClass);
  bounds.push(mod.MAX_WRITERS ?? 1024);
}
const kv = await Deno.openKv(":memory:");
const state = (seq: number) => ({ head: { seq }, headVs: "h", summary: { id: "r" }, runVs: "r" });
try {
  for (let round = 0; round < Number(values.rounds); round++) {
    for (let k = 0; k < classes.length; k++) {
      const cache = new classes[k](kv, Date.now);
      for (let i = 0; i < bounds[k]; i++) cache.remember(`w${i}`, state(i));
      const t = performance.now();
      for (let i = 0; i < RUNS; i++) {
        cache.remember(`n${i}`, state(i));
        cache.remember(`n${i}`, state(i + 1));
      }
      const us = ((performance.now() - t) / RUNS * 1000).toFixed(2);
      console.log(`${roots[k]}: ${us} µs per new run past the bound`);
    }
  }
} finally {
  kv.close();
}
