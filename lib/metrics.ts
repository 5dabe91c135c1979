/**
 * Process metrics in Prometheus text format (exposition format 0.0.4): counters, gauges and one
 * histogram, kept as plain numbers so recording costs next to nothing on the relay's hot path.
 * @module
 */

/** Prometheus labels of one sample (name → value); a label object must not change once used. */
export type Labels = Record<string, string>;

/**
 * Keys of label objects already seen: a stream passes the same object for each batch it counts,
 * so the hot path skips sorting and escaping. Label objects must not change once used.
 */
const labelKeys = new WeakMap<Labels, string>();

function labelKey(labels?: Labels): string {
  if (!labels) return "";
  const known = labelKeys.get(labels);
  if (known !== undefined) return known;
  const key = buildLabelKey(labels);
  labelKeys.set(labels, key);
  return key;
}

function buildLabelKey(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return "";
  return "{" +
    keys.map((k) =>
      `${k}="${labels[k].replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`
    )
      .join(",") +
    "}";
}

/** A monotonically increasing counter with optional labels. */
export class Counter {
  readonly #values = new Map<string, number>();
  /** A counter named `name` (the Prometheus metric name), described by `help`. */
  constructor(readonly name: string, readonly help: string) {}
  /** Adds `n` (default 1) for `labels`. */
  inc(labels?: Labels, n = 1): void {
    const k = labelKey(labels);
    this.#values.set(k, (this.#values.get(k) ?? 0) + n);
  }
  /** The current value for `labels`. */
  get(labels?: Labels): number {
    return this.#values.get(labelKey(labels)) ?? 0;
  }
  /** The sum over every label set (cheap change detection). */
  total(): number {
    let sum = 0;
    for (const v of this.#values.values()) sum += v;
    return sum;
  }
  /** Prometheus text lines. */
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.#values.size === 0) lines.push(`${this.name} 0`);
    for (const [k, v] of this.#values) lines.push(`${this.name}${k} ${v}`);
    return lines.join("\n");
  }
}

/** Prometheus text of a gauge with one sample per label set. */
export function renderLabeledGauge(
  name: string,
  help: string,
  samples: ReadonlyArray<[Labels, number]>,
): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`];
  for (const [labels, v] of samples) lines.push(`${name}${labelKey(labels)} ${v}`);
  return lines.join("\n");
}

/** A gauge read from a callback when metrics are rendered. */
export class Gauge {
  /** A gauge named `name`, described by `help`, whose value `read` returns at render time. */
  constructor(readonly name: string, readonly help: string, readonly read: () => number) {}
  /** Prometheus text lines. */
  render(): string {
    return `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} gauge\n${this.name} ${this.read()}`;
  }
}

/** A histogram with fixed buckets (upper bounds, ascending). */
export class Histogram {
  readonly #counts: number[];
  #sum = 0;
  #count = 0;
  /** A histogram named `name`, described by `help`, with the ascending upper bounds `buckets`. */
  constructor(readonly name: string, readonly help: string, readonly buckets: number[]) {
    this.#counts = new Array(buckets.length).fill(0);
  }
  /** Records one observation. */
  observe(v: number): void {
    this.#sum += v;
    this.#count++;
    for (let i = 0; i < this.buckets.length; i++) {
      if (v <= this.buckets[i]) {
        this.#counts[i]++;
        break;
      }
    }
  }
  /** Number of observations. */
  get count(): number {
    return this.#count;
  }
  /** Prometheus text lines (cumulative buckets). */
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    let acc = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      acc += this.#counts[i];
      lines.push(`${this.name}_bucket{le="${this.buckets[i]}"} ${acc}`);
    }
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.#count}`);
    lines.push(`${this.name}_sum ${this.#sum}`, `${this.name}_count ${this.#count}`);
    return lines.join("\n");
  }
}

/** The gateway's metrics. */
export class Metrics {
  /** Open SSE streams to clients (set by the gateway). */
  openStreams = 0;
  /** Runs started, labelled by `graph`. */
  readonly runsStarted = new Counter("workflow_runs_started_total", "Runs started, by graph.");
  /** Runs that reached a terminal event, labelled by `graph` and `status`. */
  readonly runsFinished = new Counter(
    "workflow_runs_finished_total",
    "Runs that reached a terminal event, by graph and status.",
  );
  /** Upstream events accepted into run logs. */
  readonly eventsRelayed = new Counter(
    "workflow_events_relayed_total",
    "Upstream events accepted into run logs.",
  );
  /** Events written to client streams, labelled by `dialect`. */
  readonly eventsSent = new Counter(
    "workflow_events_sent_total",
    "Events written to client streams, by dialect.",
  );
  /** Upstream frames skipped as malformed. */
  readonly malformedFrames = new Counter(
    "workflow_upstream_malformed_frames_total",
    "Upstream frames skipped as malformed.",
  );
  /** Upstream failures, labelled by `code`. */
  readonly upstreamErrors = new Counter(
    "workflow_upstream_errors_total",
    "Upstream failures, by code.",
  );
  /** Runs this process took over from a lost relay, labelled by `reason` (what found them). */
  readonly relayTakeovers = new Counter(
    "workflow_relay_takeovers_total",
    "Runs this instance took over from a relay that was gone, by what found them.",
  );
  /** Rejoins of a workflow stream (takeovers and cut streams), labelled by `outcome`. */
  readonly upstreamRejoins = new Counter(
    "workflow_upstream_rejoins_total",
    "Rejoins of a workflow stream (takeovers and cut streams), by outcome.",
  );
  /** Counters the SSE streams increment directly (no call per heartbeat). */
  readonly sse = { heartbeats: 0, overflows: 0 };
  /** Upstream body reads the relays made (a plain count: one increment per read, no labels). */
  readonly upstream = { reads: 0 };
  /** Requests refused before streaming, labelled by HTTP `status`. */
  readonly rejected = new Counter(
    "workflow_requests_rejected_total",
    "Requests refused before streaming, by status.",
  );
  /** Seconds from an upstream read to the log append that made its events visible. */
  readonly relayLatency = new Histogram(
    "workflow_relay_latency_seconds",
    "Time from an upstream read to its events being appended to the run log.",
    [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
  );
  readonly #gauges: Gauge[] = [
    new Gauge("workflow_open_streams", "Client SSE streams open now.", () => this.openStreams),
    new Gauge("process_resident_memory_bytes", "Resident set size.", () => Deno.memoryUsage().rss),
    new Gauge("process_heap_used_bytes", "V8 heap in use.", () => Deno.memoryUsage().heapUsed),
  ];

  /** Adds a gauge read at render time (e.g. runs by status from the store). */
  addGauge(g: Gauge): void {
    this.#gauges.push(g);
  }

  /** The whole exposition text. */
  render(extra: string[] = []): string {
    return [
      ...this.#gauges.map((g) => g.render()),
      this.runsStarted.render(),
      this.runsFinished.render(),
      this.eventsRelayed.render(),
      this.eventsSent.render(),
      this.malformedFrames.render(),
      this.upstreamErrors.render(),
      this.relayTakeovers.render(),
      this.upstreamRejoins.render(),
      `# HELP workflow_heartbeats_total Heartbeat comments sent.\n# TYPE workflow_heartbeats_total counter\nworkflow_heartbeats_total ${this.sse.heartbeats}`,
      `# HELP workflow_slow_client_disconnects_total Client streams ended because the client fell behind.\n# TYPE workflow_slow_client_disconnects_total counter\nworkflow_slow_client_disconnects_total ${this.sse.overflows}`,
      `# HELP workflow_upstream_reads_total Upstream body reads by the relays.\n# TYPE workflow_upstream_reads_total counter\nworkflow_upstream_reads_total ${this.upstream.reads}`,
      this.rejected.render(),
      this.relayLatency.render(),
      ...extra,
    ].join("\n") + "\n";
  }
}
