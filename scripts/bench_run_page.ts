/**
 * Measures `/runs/:id` on a run of many events (default 100,000): seeds the run log in a
 * temporary Deno KV file, then renders the run's first page (and one older page) through the
 * whole app in process, and prints the median, worst time and RSS.
 *
 * ```sh
 * deno run -A scripts/bench_run_page.ts [events=100000] [rounds=20]
 * ```
 * @module
 */
import { createApp } from "../lib/app.ts";
import { loadConfig } from "../lib/config.ts";
import { silentLogger } from "../lib/log.ts";
import { createServices } from "../lib/services.ts";

const events = Number(Deno.args[0] ?? 100_000);
const rounds = Number(Deno.args[1] ?? 20);
const dir = await Deno.makeTempDir({ prefix: "bench-run-page-" });
const config = loadConfig({
  KV_PATH: `${dir}/runs.kv`,
  // An external service that is not there: the page must not depend on it.
  WORKFLOW_SERVICE_URL: "http://127.0.0.1:9",
  UPSTREAM_TIMEOUT_MS: "200",
  LOG_LEVEL: "silent",
});
const services = await createServices(config, { logger: silentLogger });
try {
  const id = "bench-long-run";
  const now = new Date().toISOString();
  await services.store.create({
    id,
    graph: "hotel_o2c",
    dialect: "workflow",
    status: "running",
    createdAt: now,
    updatedAt: now,
    eventCount: 0,
    prompt: "A run of many events",
  });
  const seeded = performance.now();
  for (let written = 0; written < events;) {
    const batch = [];
    for (let i = 0; i < 1_000 && written < events; i++, written++) {
      batch.push({
        type: written === 0 ? "workflow_initialized" : "step_progress",
        data: JSON.stringify({ step: "reservation", note: `tick ${written + 1}`, ts: now }),
      });
    }
    await services.store.append(id, batch);
  }
  console.log(`seeded ${events} events in ${Math.round(performance.now() - seeded)} ms`);

  const handler = createApp({ services, logger: silentLogger }).handler();
  const info = {
    remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 1 },
    completed: Promise.resolve(),
  } as Deno.ServeHandlerInfo;
  const render = async (path: string) => {
    const t = performance.now();
    const res = await handler(
      new Request(`http://localhost${path}`, {
        headers: { accept: "text/html" },
      }),
      info,
    );
    const bytes = (await res.arrayBuffer()).byteLength;
    if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
    return { ms: performance.now() - t, bytes };
  };
  for (
    const [label, path] of [
      ["first page", `/runs/${id}`],
      ["an older page", `/runs/${id}?before=${Math.floor(events / 2)}`],
    ] as const
  ) {
    await render(path); // warm-up (module and KV caches)
    const times: number[] = [];
    let bytes = 0;
    for (let i = 0; i < rounds; i++) {
      const r = await render(path);
      times.push(r.ms);
      bytes = r.bytes;
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)];
    console.log(
      `${label}: median ${median.toFixed(1)} ms, worst ${times.at(-1)!.toFixed(1)} ms, ` +
        `${(bytes / 1024).toFixed(1)} KiB of HTML (${rounds} rounds)`,
    );
  }
  console.log(`RSS ${(Deno.memoryUsage().rss / 1024 / 1024).toFixed(0)} MB`);
} finally {
  await services.close();
  await Deno.remove(dir, { recursive: true });
}
