/**
 * What each module adds to V8's live heap when it is first imported: imports the specifiers
 * given, in order, and prints the heap in use after a full GC before and after each (what a
 * module's code, its bytecode so far and the objects it builds at load time keep alive). The
 * gateway's idle heap, which every major GC marks, is several times the floor relay's; this
 * says which imports it comes from.
 *
 * `deno run -A --v8-flags=--expose-gc bench/module_heap.ts zod ./lib/config.ts ./lib/app.ts`
 * @module
 */
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error("module_heap: run with --v8-flags=--expose-gc");
  Deno.exit(2);
}
const settled = () => {
  gc();
  gc();
  return Deno.memoryUsage().heapUsed;
};
const kb = (b: number) => `${(b / 1024).toFixed(0)} KB`;
const base = settled();
let prev = base;
for (const spec of Deno.args) {
  await import(spec.startsWith(".") ? new URL(spec, `file://${Deno.cwd()}/`).href : spec);
  const now = settled();
  console.log(`${spec}: +${kb(now - prev)} (all so far +${kb(now - base)})`);
  prev = now;
}
