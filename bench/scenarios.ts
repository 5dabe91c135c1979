/**
 * The bench's scenario runners: a streaming scenario's rounds through every target in turn, the
 * hold against the gateway, the floor and the peer, the gateway's start times and the
 * JavaScript its console page loads. Each starts the targets it needs and stops them after.
 * @module
 */
import type { BenchFlags } from "./flags.ts";
import { hold, type HoldOptions, holdRows, type Holds, type HoldTarget } from "./hold.ts";
import { type Child, processTree, spawnGateway } from "./proc.ts";
import { type Endpoint, log, nextRun, type Plan, round, summarize } from "./round.ts";
import type { Round, Summary, Target } from "./table.ts";

/** The long-lived comparison targets shared by every scenario (each present when installed). */
export interface Peers {
  /** nginx as a plain proxy to the fake upstream. */
  nginx?: Child;
  /** `resumable-stream` on Redis (`bench/peer/`). */
  peer?: Child;
  /** The peer's Redis, whose CPU and memory are counted with the peer. */
  redis?: Child;
}

/** What every runner shares: the fake upstream, the peers, the temp dir and the flags. */
export interface Bench {
  /** The fake upstream every target reads. */
  fake: Child;
  /** The long-lived comparison targets. */
  peers: Peers;
  /** Where KV files and nginx's prefix go. */
  dir: string;
  /** The command line's settings. */
  flags: BenchFlags;
}

/** The floor relay's entry point (see `floor_relay.ts`). */
const FLOOR_ENTRY = "bench/floor_relay.ts";

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

function gatewayEnv(fake: Child, dir: string, extra: Record<string, string> = {}) {
  return {
    WORKFLOW_SERVICE_URL: fake.url,
    KV_PATH: `${dir}/runs-${nextRun()}.kv`,
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

/**
 * A streaming scenario: `warm` once through every target, then `plan` through each in turn for
 * every round (each round logged); the medians per target.
 */
export async function scenario(name: string, plan: Plan, warm: Plan, b: Bench): Promise<Summary> {
  const { fake, peers, dir, flags } = b;
  const gw = await spawnGateway(gatewayEnv(fake, dir));
  const floor = flags.floor ? await spawnGateway(gatewayEnv(fake, dir), FLOOR_ENTRY) : undefined;
  const durable = flags.durable
    ? await spawnGateway(gatewayEnv(fake, dir, { FLOOR_DURABLE: "1" }), FLOOR_ENTRY)
    : undefined;
  const base = flags.baseline
    ? await spawnGateway(gatewayEnv(fake, dir), "main.ts", flags.baseline)
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
    for (let i = 0; i < flags.rounds; i++) {
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

/**
 * The hold against the gateway, the floor and the peer, then the gateway and the floor again
 * with V8's young generation capped (`--hold-young-mb`, 0: not) and at fewer streams
 * (`--hold-small-streams`, 0: not); the table's rows for them.
 */
export async function holds(b: Bench): Promise<string[]> {
  const { fake, peers, dir, flags } = b;
  const num = flags.num;
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
    runId: () => `h${Date.now().toString(36)}-${nextRun()}`,
    release: async () => {
      const res = await fetch(`${fake.url}/release?spread=1000`, { method: "POST" });
      await res.body?.cancel();
    },
    log,
  });
  const gatewayOpts = opts("gateway", spawned("main.ts"));
  const peer = peers.peer;
  const out: Holds = {
    gateway: await hold(gatewayOpts),
    floor: flags.floor ? await hold(opts("floor", spawned(FLOOR_ENTRY))) : undefined,
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
    out.capped = {
      youngMb,
      gateway: await hold(opts("gateway", spawned("main.ts", env), 0)),
      floor: flags.floor ? await hold(opts("floor", spawned(FLOOR_ENTRY, env), 0)) : undefined,
    };
  }
  const smallN = num("hold-small-streams");
  if (smallN > 0) {
    // Fewer streams, V8's defaults, the 5 s reading only: the gateway reaches V8's largest
    // young generation (a cost of the process, ~53 MB here) by ~1,000 streams, the floor
    // only by ~4,000, so below that the per-stream figure charges it to the gateway alone.
    // The durable floor beside them: whether a durable start (one commit) accounts for it.
    const small = (o: HoldOptions): HoldOptions => ({ ...o, streams: smallN });
    out.small = {
      gateway: await hold(small(opts("gateway", spawned("main.ts"), 0))),
      floor: flags.floor ? await hold(small(opts("floor", spawned(FLOOR_ENTRY), 0))) : undefined,
      durable: flags.durable
        ? await hold(small(opts("durable", spawned(FLOOR_ENTRY, { FLOOR_DURABLE: "1" }), 0)))
        : undefined,
    };
  }
  return holdRows(out, gatewayOpts);
}

/** ms from spawn to the first `/health` 200 of `--start-runs` fresh gateways, one at a time. */
export async function startTimes(b: Bench): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < b.flags.num("start-runs"); i++) {
    const gw = await spawnGateway(gatewayEnv(b.fake, b.dir));
    out.push(gw.startMs);
    await gw.stop();
  }
  return out;
}

/** The gzipped bytes of all JavaScript the gateway's console page `/` loads. */
export async function pageJs(b: Bench): Promise<number> {
  const { measurePageJs } = await import("../scripts/js_budget.ts");
  const gw = await spawnGateway(gatewayEnv(b.fake, b.dir));
  try {
    return (await measurePageJs(gw.url, "/")).totalGzip;
  } finally {
    await gw.stop();
  }
}
