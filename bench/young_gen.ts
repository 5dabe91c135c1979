/**
 * How V8's young generation grew during the hold's burst of opens: reads the output of
 * `rss_where.ts` run with the target's `--trace-gc-nvp` lines on its stdout, and prints each GC of
 * the burst with how many streams were open then, the young generation's capacity, and the bytes
 * that survived it (copied within the young generation or promoted). The young generation grows
 * with those bytes and stays grown; once it is at its maximum every later scavenge touches more of
 * its pages, which the 5 s reading counts (docs/performance.md, "What changed in the tenth pass").
 *
 * `BENCH_SHOW_STDOUT=1 BENCH_GATEWAY_FLAGS=--v8-flags=--trace-gc-nvp deno run -A
 * bench/rss_where.ts [--streams=2000] [--entry=...] > LOG; deno run -A bench/young_gen.ts LOG`
 * @module
 */

/** One GC line of `--trace-gc-nvp`. */
interface Gc {
  ms: number;
  kind: string;
  capacity: number;
  survived: number;
}

const text = await Deno.readTextFile(Deno.args[0] ?? "/dev/stdin");
const gcs: Gc[] = [];
let total = 0;
/** ms after spawn of the first request, then of every 100th open, then of the last. */
let opens: number[] = [];
for (const line of text.split("\n")) {
  const gc = /\s(\d+) ms: GC: (\{.*\})\s*$/.exec(line);
  if (gc) {
    const d = JSON.parse(gc[2]);
    gcs.push({
      ms: Number(gc[1]),
      kind: d.gc,
      capacity: d.new_space_capacity,
      survived: d.promoted + d.new_space_survived,
    });
    continue;
  }
  const o = /(\d+) streams opened, every 100th at \(ms after spawn\): ([\d,]+)/.exec(line);
  if (o) {
    total = Number(o[1]);
    opens = o[2].split(",").map(Number);
  }
}
if (opens.length < 2 || gcs.length === 0) {
  console.error("young_gen: no burst line or no GC lines in the input (see the module doc)");
  Deno.exit(2);
}
const last = opens.length - 1;

/** Streams open at `ms` after spawn, between the marks (0 before the burst). */
function openAt(ms: number): number {
  if (ms <= opens[0]) return 0;
  for (let i = 1; i <= last; i++) {
    if (ms <= opens[i]) {
      const lo = (i - 1) * 100;
      const hi = i === last ? total : i * 100;
      return Math.round(lo + (hi - lo) * (ms - opens[i - 1]) / (opens[i] - opens[i - 1]));
    }
  }
  return total;
}

const mb = (b: number) => (b / 2 ** 20).toFixed(1);
const max = Math.max(...gcs.map((g) => g.capacity));
let survived = 0;
let atMax: number | null = null;
let scavengesAtMax = 0;
console.log("ms after spawn | streams open | GC | young capacity (MB) | survived (MB)");
for (const g of gcs) {
  if (g.ms < opens[0] || g.ms > opens[last]) continue;
  survived += g.survived;
  if (g.capacity === max) {
    atMax ??= openAt(g.ms);
    if (g.kind === "s") scavengesAtMax++;
  }
  console.log(`${g.ms} | ${openAt(g.ms)} | ${g.kind} | ${mb(g.capacity)} | ${mb(g.survived)}`);
}
console.log(
  `burst of ${total} streams: ${(survived / 1024 / total).toFixed(1)} KB survived ` +
    `GCs per stream; young generation at its largest (${mb(max)} MB) from stream ` +
    `${atMax ?? "–"}, then ${scavengesAtMax} scavenges`,
);
