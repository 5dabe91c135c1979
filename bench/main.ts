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
 * 4,000 idle streams with heartbeats (and a 5 s reading at 2,000); then process start → first
 * `/health` 200 and the JavaScript on `/`.
 *
 * Flags: `--rounds=3 --s1-events=100000 --s2-streams=200 --s2-rate=100 --s2-seconds=5
 * --s3-streams=50 --s3-rate=20 --s3-seconds=5 --hold-streams=4000 --hold-small-streams=2000
 * --hold-seconds=5 --hold-settle-seconds=90 --hold-heartbeat-ms=1000 --hold-young-mb=4
 * --start-runs=5 --only=s1,s2,s3,hold,start,js --floor=true --durable=true --peer=true
 * --nginx=true --kv-dir=DIR --baseline=DIR`. `--baseline` names another checkout of this
 * repository whose gateway runs in the same rounds, right before this one, and is logged per
 * round (not in the table): a before/after of a change on a noisy box. The hold reads RSS 5 s
 * after its streams opened and again held (the median over the last 30 s of
 * `--hold-settle-seconds`).
 * @module
 */
import { pageJsRow, s2Goals, s3Goals, startRow } from "./goals.ts";
import { parseFlags } from "./flags.ts";
import { type Child, spawnFake, spawnNginx, spawnPeer, spawnRedis } from "./proc.ts";
import { type Bench, holds, pageJs, type Peers, scenario, startTimes } from "./scenarios.ts";
import { header, scenarioRows } from "./table.ts";

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
  const flags = parseFlags(Deno.args);
  const { num, only } = flags;
  // --kv-dir=/dev/shm shows what the disk's fsync per commit costs (the default is a temp dir).
  const dir = await Deno.makeTempDir({ prefix: "wfs-bench-", dir: flags.values["kv-dir"] });
  const loadBefore = await loadAvg();
  const fake = await spawnFake();
  const peers: Peers = {};
  const b: Bench = { fake, peers, dir, flags };
  const rows: string[] = [];
  const notes: string[] = [];
  const started = performance.now();
  try {
    if (flags.values.nginx !== "false") {
      peers.nginx = await spawnNginx(fake.url, dir) ?? undefined;
      if (!peers.nginx) notes.push("nginx is not installed: its column is n/a.");
    }
    if (flags.values.peer !== "false") {
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
        b,
      );
      rows.push(...scenarioRows(`S1 1 × ${events} events, full speed`, s, {}));
    }
    if (only.has("s2")) {
      const { label, plan } = paced("s2");
      const s = await scenario("S2", plan, { ...plan, count: plan.rate }, b);
      rows.push(...scenarioRows(label, s, s2Goals(s)));
    }
    if (only.has("s3")) {
      const { label, plan } = paced("s3");
      const s = await scenario("S3", plan, { ...plan, count: plan.rate }, b);
      rows.push(...scenarioRows(label, s, s3Goals(s)));
    }
    if (only.has("hold")) rows.push(...await holds(b));
    if (only.has("start")) rows.push(startRow(await startTimes(b)));
    if (only.has("js")) rows.push(pageJsRow(await pageJs(b)));
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
      `Rounds: ${flags.rounds}; each round runs every target in turn (direct, nginx, peer, floor, durable floor, gateway); medians; took ${
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
