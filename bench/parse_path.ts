/**
 * `deno run -A --v8-flags=--expose-gc bench/parse_path.ts [--frames=20000 --rounds=15]`: the SSE
 * parse path alone, `lib/sse/parse.ts` against the eventsource-parser layer it replaced
 * (tests/fixtures/sse_parse_reference.ts), on the same bytes.
 *
 * - CPU µs per frame: typical workflow frames (`id: n`, `event: step_started`, a JSON `data:`)
 *   fed as bytes in reads of 1–3 whole frames (what the relay sees at low rates), and the same
 *   stream cut into 4 KiB reads (frames split between reads). Rounds alternate old/new; medians.
 * - Live heap per idle parser: N parsers each fed one frame and kept, heap used after a forced
 *   GC against before (needs `--expose-gc`).
 * @module
 */
import { parseArgs } from "node:util";
import { createFrameParser, type FrameParser, type SseFrame } from "../lib/sse/parse.ts";
import { createReferenceParser } from "../tests/fixtures/sse_parse_reference.ts";
import { median } from "./stats.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    frames: { type: "string", default: "20000" },
    rounds: { type: "string", default: "15" },
    parsers: { type: "string", default: "10000" },
  },
});
const FRAMES = Number(values.frames);
const ROUNDS = Number(values.rounds);
const PARSERS = Number(values.parsers);

type Make = (onFrame: (f: SseFrame) => void) => FrameParser;
const TARGETS: [string, Make][] = [
  ["eventsource-parser", (f) => createReferenceParser(f)],
  ["ours", (f) => createFrameParser(f)],
];

const enc = new TextEncoder();

function frame(n: number): string {
  const data = {
    workflowId: "8f0c5f1e-6a57-4a43-9d44-2b0b7a8e1c11",
    ts: 1_760_000_000_000 + n,
    step: n % 2 ? "availability" : "payment",
    attempt: 1,
    detail: { hotel: "Hôtel du Parc", nights: 2 + (n % 3) },
  };
  return `id: ${n}\nevent: step_started\ndata: ${JSON.stringify(data)}\n\n`;
}

/** The stream as reads of 1–3 whole frames (seeded, the same for every target). */
function frameReads(): Uint8Array[] {
  const reads: Uint8Array[] = [];
  let seed = 7;
  for (let n = 0; n < FRAMES;) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const k = 1 + (seed >>> 16) % 3;
    let text = "";
    for (let i = 0; i < k && n < FRAMES; i++) text += frame(n++);
    reads.push(enc.encode(text));
  }
  return reads;
}

/** The same stream in 4 KiB reads. */
function blockReads(reads: Uint8Array[]): Uint8Array[] {
  const all = new Uint8Array(reads.reduce((s, r) => s + r.length, 0));
  let at = 0;
  for (const r of reads) {
    all.set(r, at);
    at += r.length;
  }
  const out: Uint8Array[] = [];
  for (let i = 0; i < all.length; i += 4096) out.push(all.subarray(i, i + 4096));
  return out;
}

/** µs per frame for one pass over `reads`, through one read buffer reused like the pump's. */
function pass(make: Make, reads: Uint8Array[]): number {
  let frames = 0;
  let bytes = 0;
  const p = make((f) => {
    frames++;
    bytes += f.data.length;
  });
  const buf = new Uint8Array(16 * 1024);
  const t0 = performance.now();
  for (const r of reads) {
    buf.set(r);
    p.feed(buf.subarray(0, r.length));
  }
  p.end();
  const us = ((performance.now() - t0) * 1000) / frames;
  if (frames !== FRAMES || bytes === 0) throw new Error(`${frames} frames of ${FRAMES}`);
  return us;
}

function cpu(label: string, reads: Uint8Array[]): void {
  const samples = new Map<string, number[]>(TARGETS.map(([name]) => [name, []]));
  for (let i = 0; i < 3; i++) for (const [, make] of TARGETS) pass(make, reads); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 ? [...TARGETS].reverse() : TARGETS;
    for (const [name, make] of order) samples.get(name)!.push(pass(make, reads));
  }
  const line = TARGETS.map(([name]) => `${name} ${median(samples.get(name)!).toFixed(3)} µs`);
  const [before, after] = TARGETS.map(([name]) => median(samples.get(name)!));
  console.log(`${label}: ${line.join(", ")} per frame (${(before / after).toFixed(2)}× faster)`);
}

const gc = (globalThis as { gc?: () => void }).gc;

function heapPerParser(make: Make): number {
  gc!();
  gc!();
  const before = Deno.memoryUsage().heapUsed;
  const held: FrameParser[] = [];
  const one = enc.encode(frame(1));
  for (let i = 0; i < PARSERS; i++) {
    const p = make(() => {});
    p.feed(one);
    held.push(p);
  }
  gc!();
  gc!();
  const after = Deno.memoryUsage().heapUsed;
  if (held.length !== PARSERS) throw new Error("unreachable");
  return (after - before) / PARSERS;
}

const reads = frameReads();
const bytes = reads.reduce((s, r) => s + r.length, 0);
console.log(`${FRAMES} frames, ${(bytes / FRAMES).toFixed(0)} B each, ${ROUNDS} rounds`);
cpu("reads of 1-3 frames", reads);
cpu("4 KiB reads", blockReads(reads));
if (gc) {
  for (const [name, make] of TARGETS) {
    const per = [0, 1, 2].map(() => heapPerParser(make));
    console.log(`${name}: ${median(per).toFixed(0)} B live heap per idle parser`);
  }
} else console.log("(run with --v8-flags=--expose-gc for the heap per idle parser)");
