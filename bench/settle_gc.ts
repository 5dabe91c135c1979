/**
 * An experiment, not part of the gateway: what the hold's RSS 5 s after its burst would be if the
 * process collected its garbage once the burst was over, and what that collection costs. Loaded
 * before the entry with `--preload` (`BENCH_GATEWAY_FLAGS=--preload=bench/settle_gc.ts`), it
 * watches V8's young generation; `SETTLE_GC_AFTER_MS` (default 3000) after it first grew past
 * `SETTLE_GC_YOUNG_MB` (default 16), it runs one full GC and writes to stderr how long the
 * process stood still and what the young and old generations held before and after. The GC
 * comes from `--expose-gc`, set at run time (`node:v8`) and read by a new context (`node:vm`).
 * @module
 */
import v8 from "node:v8";
import vm from "node:vm";

const youngMb = Number(Deno.env.get("SETTLE_GC_YOUNG_MB") ?? 16);
const afterMs = Number(Deno.env.get("SETTLE_GC_AFTER_MS") ?? 3_000);

/** MiB of a V8 heap space: its committed size, or what is in use. */
function spaceMb(name: string, used = false): number {
  const s = v8.getHeapSpaceStatistics().find((x) => x.space_name === name);
  return s ? (used ? s.space_used_size : s.space_size) / 2 ** 20 : 0;
}

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;
let grownAt = 0;
const timer = setInterval(() => {
  if (grownAt === 0) {
    if (spaceMb("new_space") > youngMb) grownAt = performance.now();
    return;
  }
  if (performance.now() - grownAt < afterMs) return;
  clearInterval(timer);
  const before = { young: spaceMb("new_space"), old: spaceMb("old_space", true) };
  const t0 = performance.now();
  gc();
  const pauseMs = performance.now() - t0;
  console.error(
    `settle_gc: full GC ${pauseMs.toFixed(1)} ms; young generation ${before.young.toFixed(1)} → ` +
      `${spaceMb("new_space").toFixed(1)} MiB; old space in use ${before.old.toFixed(1)} → ` +
      `${spaceMb("old_space", true).toFixed(1)} MiB`,
  );
}, 250);
Deno.unrefTimer(timer);
