/**
 * `deno task bench`: the gateway measured side by side, in one run, with what it is compared to:
 * a direct connection to the upstream (the limit), nginx as a plain proxy (where installed), the
 * peer people pick for resumable SSE (`resumable-stream` on Redis, `bench/peer/`), and the floor
 * (a bare Deno relay, `floor_relay.ts`: what Deno itself costs), and the durable floor (the same
 * relay committing each upstream read to Deno KV before forwarding it: what durability itself
 * costs on Deno here). See docs/performance.md.
 *
 * Processes: the fake upstream (`fake_upstream.ts`), each target, and this one, the measuring
 * client. Each round sends the same plan through every target in turn (direct, nginx, peer,
 * floor, durable floor, gateway); the table reports medians over rounds. Scenarios: S1 one
 * stream at full speed, S2 200 streams × 100 events/s, S3 50 streams × 20 events/s, a hold of
 * 2,000 idle streams with heartbeats; then process start → first `/health` 200 and the
 * JavaScript on `/`.
 *
 * Flags: `--rounds=3 --s1-events=100000 --s2-streams=200 --s2-rate=100 --s2-seconds=5
 * --s3-streams=50 --s3-rate=20 --s3-seconds=5 --hold-streams=2000 --hold-seconds=5
 * --hold-settle-seconds=90 --hold-heartbeat-ms=1000 --start-runs=5
 * --only=s1,s2,s3,hold,start,js --floor=true --durable=true --peer=true --nginx=true --kv-dir=DIR
 * --baseline=DIR`. `--baseline` names another checkout of this repository whose gateway runs in
 * the same rounds, right before this one, and is logged per round (not in the table): a
 * before/after of a change on a noisy box. The hold reads RSS 5 s after its streams opened and
 * again held (the median over the last 30 s of `--hold-settle-seconds`).
 * @module
 */
import { parseArgs } from "node:util";
import { readStream, type StreamResult } from "./client.ts";
import { BENCH_GRAPH, wallNow } from "./fake_upstream.ts";
import {
  type Child,
  cpuNs,
  cpuNsByThread,
  processTree,
  rssKb,
  spawnFake,
  spawnGateway,
  spawnNginx,
  spawnPeer,
  spawnRedis,
} from "./proc.ts";
import { hold, type HoldOptions, holdRows, type Holds, type HoldTarget } from "./hold.ts";
import { concat, median, percentile } from "./stats.ts";
import {
  added,
  all,
  atMost,
  f,
  header,
  mark,
  type Round,
  scenarioRows,
  type Summary,
  type Target,
} from "./table.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    "s1-events": { type: "string", default: "100000" },
    "s2-streams": { type: "string", default: "200" },
    "s2-rate": { type: "string", default: "100" },
    "s2-seconds": { type: "string", default: "5" },
    "s3-streams": { type: "string", default: "50" },
    "s3-rate": { type: "string", default: "20" },
    "s3-seconds": { type: "string", default: "5" },
    "hold-streams": { type: "string", default: "2000" },
    "hold-seconds": { type: "string", default: "5" },
    "hold-settle-seconds": { type: "string", default: "90" },
    "hold-heartbeat-ms": { type: "string", default: "1000" },
    "hold-young-mb": { type: "string", default: "4" },
    "start-runs": { type: "string", default: "5" },
    only: { type: "string", default: "s1,s2,s3,hold,start,js" },
    "kv-dir": { type: "string" },
    floor: { type: "string", default: "true" },
    durable: { type: "string", default: "true" },
    baseline: { type: "string" },
    peer: { type: "string", default: "true" },
    nginx: { type: "string", default: "true" },
  },
});
const num = (name: keyof typeof flags) => Number(flags[name]);
const only = new Set(String(flags.only).split(","));
const ROUNDS = Math.max(1, num("rounds"));
/** Also measure the floor relay (`floor_relay.ts`): what Deno itself costs, for comparison. */
const FLOOR = flags.floor !== "false";
/** Also measure the durable floor (`floor_relay.ts` with `FLOOR_DURABLE=1`). */
const DURABLE = flags.durable !== "false";

function log(msg: string): void {
  console.error(`[bench] ${msg}`);
}

/** One scenario's shape. */
interface Plan {
  streams: number;
  /** Step events per stream. */
  count: number;
  /** Events per second per stream; 0 = full speed. */
  rate: number;
}

let runCounter = 0;
/**
 * BENCH_THREADS=1: log the CPU per thread of each Deno target after its rounds, and the
 * gateway's KV commits per event (from its `/metrics`).
 */
const THREADS = Deno.env.get("BENCH_THREADS") === "1";

function logThreads(who: string, before: Map<string, number>, after: Map<string, number>): void {
  const rows: string[] = [];
  for (const [name, ns] of after) {
    const d = (ns - (before.get(name) ?? 0)) / 1e6;
    if (d >= 1) rows.push(`${name} ${d.toFixed(0)} ms`);
  }
  log(`  ${who} CPU by thread: ${rows.join(", ")}`);
}

/** The gateway's own counters (from `/metrics`) that say where its time goes. */
async function gatewayCounters(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^(workflow_[a-z_]+?)(\{[^}]*\})? ([0-9.e+-]+)$/gm)) {
    // Histogram buckets are kept by bound too (`name{le="0.002"}`), other labels are summed.
    const key = m[2]?.startsWith('{le="') ? m[1] + m[2] : m[1];
    out.set(key, (out.get(key) ?? 0) + Number(m[3]));
  }
  return out;
}

function logCounters(who: string, before: Map<string, number>, after: Map<string, number>): void {
  const d = (k: string) => (after.get(k) ?? 0) - (before.get(k) ?? 0);
  const events = d("workflow_events_relayed_total");
  const appends = d("workflow_log_appends");
  const commits = d("workflow_log_commits");
  const reads = d("workflow_upstream_reads_total");
  const h = "workflow_relay_latency_seconds";
  const count = d(`${h}_count`);
  const lat = d(`${h}_sum`) / count;
  // Share of appends whose read → committed time passed 1 and 2 ms (the S3 p99 goal's scale).
  const over = (le: string) => (100 * (count - d(`${h}_bucket{le="${le}"}`)) / count).toFixed(2);
  log(
    `  ${who}: ${events} events in ${reads} upstream reads, ${appends} appends and ` +
      `${commits} KV commits ` +
      `(${(commits / events).toFixed(3)} commits per event, ${
        (appends / commits).toFixed(2)
      } appends per commit); upstream read → committed mean ${(lat * 1000).toFixed(3)} ms, ` +
      `over 1 ms ${over("0.001")} %, over 2 ms ${over("0.002")} %`,
  );
}

/** Where a target listens and which processes do its work (for CPU and memory). */
interface Endpoint {
  target: Target;
  url: string;
  /** The processes whose CPU a round charges to this target (none for direct). */
  pids: () => number[];
  /** The process whose RSS is sampled. */
  rssPid?: number;
}

/** The same plan through each target, one after the other. */
const ORDER: readonly Target[] = [
  "direct",
  "nginx",
  "peer",
  "floor",
  "durable",
  "baseline",
  "gateway",
];
/** Another checkout's gateway, measured in the same rounds (`--baseline=DIR`). */
const BASELINE = flags.baseline
  ? new URL(`${flags.baseline.replace(/\/?$/, "/")}`, "file:///").pathname
  : undefined;

async function round(ep: Endpoint, plan: Plan): Promise<Round> {
  // Paced streams start together a moment from now, phases spread over one interval.
  const lead = 300 + plan.streams * 2;
  const t0 = wallNow() + lead;
  const interval = plan.rate > 0 ? 1000 / plan.rate : 0;
  const pids = ep.pids();
  const cpuOf = () => pids.reduce((s, pid) => s + cpuNs(pid), 0);
  const gatewayLike = ep.target === "gateway" || ep.target === "baseline";
  const denoTarget = gatewayLike || ep.target === "floor" || ep.target === "durable";
  const threads0 = THREADS && denoTarget ? cpuNsByThread(pids[0]) : undefined;
  const counters0 = THREADS && gatewayLike ? await gatewayCounters(ep.url) : undefined;
  const cpu0 = cpuOf();
  const rssPid = ep.rssPid;
  let peak = rssPid ? rssKb(rssPid) : NaN;
  const sampler = setInterval(() => {
    if (rssPid) peak = Math.max(peak, rssKb(rssPid));
  }, 100);
  const tasks: Promise<StreamResult>[] = [];
  const raw = ep.target === "direct" || ep.target === "nginx";
  for (let i = 0; i < plan.streams; i++) {
    const id = `b${Date.now().toString(36)}-${runCounter++}`;
    const initial_state = {
      count: plan.count,
      rate: plan.rate,
      ...(plan.rate > 0 ? { startAt: t0 + (interval * i) / plan.streams } : {}),
    };
    // Direct and nginx read the fake's /execute; the relays take the gateway's own body.
    const url = raw ? `${ep.url}/execute` : `${ep.url}/agui`;
    const body = raw
      ? { graph_name: BENCH_GRAPH, initial_state, thread_id: id }
      : { graph_name: BENCH_GRAPH, initial_state, run_id: id };
    tasks.push(readStream({ url, body, expected: plan.count }));
  }
  const results = await Promise.all(tasks);
  clearInterval(sampler);
  const cpu = cpuOf() - cpu0;
  if (threads0) logThreads(ep.target, threads0, cpuNsByThread(pids[0]));
  if (counters0) logCounters(ep.target, counters0, await gatewayCounters(ep.url));
  const lat = concat(results.map((r) => r.latencies));
  const events = results.reduce((s, r) => s + r.received, 0);
  const start = plan.rate > 0
    ? Math.min(...results.filter((r) => r.received > 0).map((r) => r.firstSend))
    : Math.min(...results.map((r) => r.requested));
  const end = Math.max(...results.map((r) => r.lastRecv));
  const errors = results.filter((r) => r.error || !r.terminal);
  for (const r of errors.slice(0, 3)) {
    log(`  ${ep.target} stream error: ${r.error ?? "no terminal event"}`);
  }
  return {
    events,
    throughput: events / ((end - start) / 1000),
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    ttfb: median(results.map((r) => r.firstByte - r.requested).filter(Number.isFinite)),
    lost: results.reduce((s, r) => s + r.lost, 0),
    duplicated: results.reduce((s, r) => s + r.duplicated, 0),
    malformed: results.reduce((s, r) => s + r.malformed, 0),
    errors: errors.length,
    // Frames per stream: the step events plus workflow_initialized and the terminal event.
    cpuUsPerEvent: pids.length > 0 ? cpu / 1000 / (events + 2 * plan.streams) : NaN,
    peakRssKb: peak,
  };
}

function summarize(rounds: Round[]): Round {
  const m = (k: keyof Round) => median(rounds.map((r) => r[k]));
  const sum = (k: keyof Round) => rounds.reduce((s, r) => s + r[k], 0);
  return {
    events: m("events"),
    throughput: m("throughput"),
    p50: m("p50"),
    p99: m("p99"),
    ttfb: m("ttfb"),
    lost: sum("lost"),
    duplicated: sum("duplicated"),
    malformed: sum("malformed"),
    errors: sum("errors"),
    cpuUsPerEvent: m("cpuUsPerEvent"),
    peakRssKb: Math.max(...rounds.map((r) => r.peakRssKb)),
  };
}

function gatewayEnv(fake: Child, dir: string, extra: Record<string, string> = {}) {
  return {
    WORKFLOW_SERVICE_URL: fake.url,
    KV_PATH: `${dir}/runs-${runCounter++}.kv`,
    LOG_LEVEL: "warn",
    RATE_LIMIT_PER_MINUTE: "0",
    RATE_LIMIT_EVENTS_PER_MINUTE: "0",
    RATE_LIMIT_ACTIONS_PER_MINUTE: "0",
    MAX_STREAMS_PER_CLIENT: "0",
    ...extra,
  };
}

function child(target: Target, c: Child, extraPids: number[] = []): Endpoint {
  return { target, url: c.url, pids: () => [...processTree(c.pid), ...extraPids], rssPid: c.pid };
}

/** The long-lived comparison targets shared by every scenario (each present when installed). */
interface Peers {
  nginx?: Child;
  peer?: Child;
  redis?: Child;
}

async function scenario(
  name: string,
  plan: Plan,
  warm: Plan,
  fake: Child,
  peers: Peers,
  dir: string,
): Promise<Summary> {
  const gw = await spawnGateway(gatewayEnv(fake, dir));
  const floor = FLOOR ? await spawnGateway(gatewayEnv(fake, dir), FLOOR_ENTRY) : undefined;
  const durable = DURABLE
    ? await spawnGateway(gatewayEnv(fake, dir, { FLOOR_DURABLE: "1" }), FLOOR_ENTRY)
    : undefined;
  const base = BASELINE
    ? await spawnGateway(gatewayEnv(fake, dir), "main.ts", BASELINE)
    : undefined;
  const eps: Endpoint[] = [
    { target: "direct" as const, url: fake.url, pids: () => [] },
    ...(peers.nginx ? [child("nginx", peers.nginx)] : []),
    ...(peers.peer ? [child("peer", peers.peer, peers.redis ? [peers.redis.pid] : [])] : []),
    ...(floor ? [child("floor", floor)] : []),
    ...(durable ? [child("durable", durable)] : []),
    ...(base ? [child("baseline", base)] : []),
    child("gateway", gw),
  ].sort((a, b) => ORDER.indexOf(a.target) - ORDER.indexOf(b.target));
  try {
    log(`${name}: warm-up`);
    for (const ep of eps) await round(ep, warm);
    const rounds = new Map<Target, Round[]>(eps.map((ep) => [ep.target, []]));
    for (let i = 0; i < ROUNDS; i++) {
      const line: string[] = [];
      for (const ep of eps) {
        const r = await round(ep, plan);
        rounds.get(ep.target)!.push(r);
        line.push(
          `${ep.target} ${r.throughput.toFixed(0)} ev/s p50 ${r.p50.toFixed(2)} p99 ` +
            `${r.p99.toFixed(2)} ttfb ${r.ttfb.toFixed(1)}` +
            (Number.isFinite(r.cpuUsPerEvent) ? ` cpu ${r.cpuUsPerEvent.toFixed(1)} µs/ev` : "") +
            (r.lost + r.duplicated + r.malformed + r.errors > 0
              ? ` LOST ${r.lost} DUP ${r.duplicated} BAD ${r.malformed} ERR ${r.errors}`
              : ""),
        );
      }
      log(`${name} round ${i + 1}: ${line.join(" | ")}`);
    }
    const out: Summary = new Map();
    for (const [t, rs] of rounds) out.set(t, summarize(rs));
    return out;
  } finally {
    await gw.stop();
    await floor?.stop();
    await durable?.stop();
    await base?.stop();
  }
}

/** The floor relay's entry point (see `floor_relay.ts`). */
const FLOOR_ENTRY = "bench/floor_relay.ts";

async function startTimes(fake: Child, dir: string): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < num("start-runs"); i++) {
    const gw = await spawnGateway(gatewayEnv(fake, dir));
    out.push(gw.startMs);
    await gw.stop();
  }
  return out;
}

async function pageJs(fake: Child, dir: string): Promise<number> {
  const { measurePageJs } = await import("../scripts/js_budget.ts");
  const gw = await spawnGateway(gatewayEnv(fake, dir));
  try {
    return (await measurePageJs(gw.url, "/")).totalGzip;
  } finally {
    await gw.stop();
  }
}

async function loadAvg(): Promise<string> {
  return (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ")[0];
}

async function machine(): Promise<string> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? "unknown CPU";
  return `${navigator.hardwareConcurrency} cores (${model}), Deno ${Deno.version.deno}, ` +
    `${Deno.build.os}/${Deno.build.arch}`;
}

async function main(): Promise<void> {
  // --kv-dir=/dev/shm shows what the disk's fsync per commit costs (the default is a temp dir).
  const dir = await Deno.makeTempDir({ prefix: "wfs-bench-", dir: flags["kv-dir"] });
  const loadBefore = await loadAvg();
  const fake = await spawnFake();
  const peers: Peers = {};
  const rows: string[] = [];
  const notes: string[] = [];
  const started = performance.now();
  try {
    if (flags.nginx !== "false") {
      peers.nginx = await spawnNginx(fake.url, dir) ?? undefined;
      if (!peers.nginx) notes.push("nginx is not installed: its column is n/a.");
    }
    if (flags.peer !== "false") {
      peers.redis = await spawnRedis() ?? undefined;
      if (peers.redis) {
        peers.peer = await spawnPeer(
          fake.url,
          (peers.redis as Child & { redisUrl: string }).redisUrl,
        );
      } else notes.push("redis-server is not installed: the peer's column is n/a.");
    }
    const paced = (key: "s2" | "s3") => {
      const [streams, rate, secs] = [
        num(`${key}-streams`),
        num(`${key}-rate`),
        num(`${key}-seconds`),
      ];
      return {
        label: `${key.toUpperCase()} ${streams} × ${rate} ev/s, ${secs} s`,
        plan: { streams, count: rate * secs, rate },
      };
    };
    if (only.has("s1")) {
      const events = num("s1-events");
      const s = await scenario(
        "S1",
        { streams: 1, count: events, rate: 0 },
        { streams: 1, count: 20_000, rate: 0 },
        fake,
        peers,
        dir,
      );
      rows.push(...scenarioRows(`S1 1 × ${events} events, full speed`, s, {}));
    }
    if (only.has("s2")) {
      const { label, plan } = paced("s2");
      const s = await scenario("S2", plan, { ...plan, count: plan.rate }, fake, peers, dir);
      const g = s.get("gateway")!;
      const peer = s.get("peer");
      rows.push(...scenarioRows(label, s, {
        throughput: {
          text: "≥ 0.98× direct",
          met: g.throughput / s.get("direct")!.throughput >= 0.98,
        },
        latency: {
          text: "p50 ≤ peer's",
          met: atMost(added(s, "gateway", "p50"), added(s, "peer", "p50")),
        },
        cpu: { text: "≤ peer's", met: atMost(g.cpuUsPerEvent, peer?.cpuUsPerEvent ?? NaN) },
        ttfb: { text: "≤ peer's", met: atMost(g.ttfb, peer?.ttfb ?? NaN) },
      }));
    }
    if (only.has("s3")) {
      const { label, plan } = paced("s3");
      const s = await scenario("S3", plan, { ...plan, count: plan.rate }, fake, peers, dir);
      const g = s.get("gateway")!;
      const peer = s.get("peer");
      const floor = s.get("floor");
      const p99 = added(s, "gateway", "p99");
      rows.push(...scenarioRows(label, s, {
        latency: {
          text: "p99 ≤ 2 ms and ≤ peer's",
          met: all(p99 <= 2, atMost(p99, added(s, "peer", "p99"))),
        },
        cpu: {
          text: "≤ peer's and ≤ 2× floor's",
          met: all(
            atMost(g.cpuUsPerEvent, peer?.cpuUsPerEvent ?? NaN),
            atMost(g.cpuUsPerEvent, 2 * (floor?.cpuUsPerEvent ?? NaN)),
          ),
        },
        ttfb: { text: "≤ peer's", met: atMost(g.ttfb, peer?.ttfb ?? NaN) },
      }));
    }
    if (only.has("hold")) {
      log("hold: opening streams");
      const hb = num("hold-heartbeat-ms");
      const spawned =
        (entry: string, env: Record<string, string> = {}) => async (): Promise<HoldTarget> => {
          const gw = await spawnGateway(
            { ...gatewayEnv(fake, dir), HEARTBEAT_MS: String(hb), ...env },
            entry,
          );
          return { url: gw.url, pids: [gw.pid], stop: gw.stop };
        };
      const opts = (
        target: Target,
        open: () => Promise<HoldTarget>,
        settleS = num("hold-settle-seconds"),
      ): HoldOptions => ({
        streams: num("hold-streams"),
        holdMs: num("hold-seconds") * 1000,
        settleS,
        heartbeatMs: hb,
        open,
        warm: (t) =>
          round({ target, url: t.url, pids: () => t.pids, rssPid: t.pids[0] }, {
            streams: 10,
            count: 100,
            rate: 0,
          }),
        runId: () => `h${Date.now().toString(36)}-${runCounter++}`,
        release: async () => {
          const res = await fetch(`${fake.url}/release?spread=1000`, { method: "POST" });
          await res.body?.cancel();
        },
        log,
      });
      const gatewayOpts = opts("gateway", spawned("main.ts"));
      const peer = peers.peer;
      const holds: Holds = {
        gateway: await hold(gatewayOpts),
        floor: FLOOR ? await hold(opts("floor", spawned(FLOOR_ENTRY))) : undefined,
        // The peer is the long-lived one of the scenarios; its Redis is counted with it.
        peer: peer
          ? await hold(opts("peer", () =>
            Promise.resolve({
              url: peer.url,
              pids: [peer.pid, ...(peers.redis ? [peers.redis.pid] : [])],
            })))
          : undefined,
      };
      const youngMb = num("hold-young-mb");
      if (youngMb > 0) {
        // The same hold, the gateway and the floor alike, with V8's young generation capped:
        // how much of the 5 s reading is V8 growing it. A setting of the process, read before
        // any code runs (docs/performance.md): the 5 s reading only.
        const env = { DENO_V8_FLAGS: `--max-semi-space-size=${youngMb}` };
        holds.capped = {
          youngMb,
          gateway: await hold(opts("gateway", spawned("main.ts", env), 0)),
          floor: FLOOR ? await hold(opts("floor", spawned(FLOOR_ENTRY, env), 0)) : undefined,
        };
      }
      rows.push(...holdRows(holds, gatewayOpts));
    }
    if (only.has("start")) {
      const times = await startTimes(fake, dir);
      const m = median(times);
      rows.push(
        `| Start | process start → first /health 200, median of ${times.length} (ms) | n/a | n/a | n/a | – | n/a | **${
          f(m, 0)
        }** (${times.map((t) => t.toFixed(0)).join(", ")}) | ≤ 300 ms | ${mark(m <= 300)} |`,
      );
    }
    if (only.has("js")) {
      const bytes = await pageJs(fake, dir);
      rows.push(
        `| Console | all JavaScript on / (gzip, KB) | n/a | n/a | n/a | n/a | n/a | **${
          f(bytes / 1024, 1)
        }** | ≤ 15 KB | ${mark(bytes <= 15 * 1024)} |`,
      );
    }
  } finally {
    await peers.peer?.stop();
    await peers.redis?.stop();
    await peers.nginx?.stop();
    await fake.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  console.log(
    [
      `Machine: ${await machine()}`,
      `Load average (1 min) before / after: ${loadBefore} / ${await loadAvg()} (other work on the box skews results)`,
      `Command: deno task bench ${Deno.args.join(" ")}`.trimEnd(),
      `Rounds: ${ROUNDS}; each round runs every target in turn (direct, nginx, peer, floor, durable floor, gateway); medians; took ${
        ((performance.now() - started) / 1000).toFixed(0)
      } s`,
      "CPU per event counts every process of a target: nginx's master and worker, the peer's Node process and its redis-server, the floors' and the gateway's one Deno process each (its KV included).",
      ...notes,
      "",
      ...header(),
      ...rows,
    ].join("\n"),
  );
}

if (import.meta.main) await main();
