/**
 * The gateway's goals, scenario by scenario, each read against the same run's figures: the goal
 * cells of S2 and S3, and the rows of the measures only the gateway has (start time, page JS).
 * @module
 */
import { median } from "./stats.ts";
import { added, all, atMost, f, mark, type ScenarioGoals, type Summary } from "./table.ts";

/** S2 (many streams at a steady rate): throughput near direct, latency, CPU and TTFB vs the peer. */
export function s2Goals(s: Summary): ScenarioGoals {
  const g = s.get("gateway")!;
  const peer = s.get("peer");
  return {
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
  };
}

/** S3 (fewer, slower streams): p99 within 2 ms and the peer's, CPU vs the peer and the floor. */
export function s3Goals(s: Summary): ScenarioGoals {
  const g = s.get("gateway")!;
  const peer = s.get("peer");
  const floor = s.get("floor");
  const p99 = added(s, "gateway", "p99");
  return {
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
  };
}

/** The start row: the median of `times` (ms to the first `/health` 200), goal 300 ms. */
export function startRow(times: number[]): string {
  const m = median(times);
  return `| Start | process start → first /health 200, median of ${times.length} (ms) | n/a | n/a | n/a | – | n/a | **${
    f(m, 0)
  }** (${times.map((t) => t.toFixed(0)).join(", ")}) | ≤ 300 ms | ${mark(m <= 300)} |`;
}

/** The console row: all JavaScript on `/` (`bytes` gzipped), goal 15 KB. */
export function pageJsRow(bytes: number): string {
  return `| Console | all JavaScript on / (gzip, KB) | n/a | n/a | n/a | n/a | n/a | **${
    f(bytes / 1024, 1)
  }** | ≤ 15 KB | ${mark(bytes <= 15 * 1024)} |`;
}
