/**
 * `GET /metrics` against a gateway relaying a fake workflow service: every metric the issue
 * names is present in Prometheus text format and moves when the thing it counts happens.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { FakeUpstream } from "../fixtures/fake_upstream.ts";
import { postJson, relayToFake, type TestGateway } from "../fixtures/gateway.ts";
import { readSse } from "../fixtures/sse_reader.ts";
import { poll } from "../fixtures/within.ts";

type Samples = Map<string, number>;

/** Parses exposition text into `name{labels}` → value, checking every line's syntax. */
function parse(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("# HELP ") || line.startsWith("# TYPE ")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (-?[0-9.e+-]+|NaN|\+Inf)$/.exec(line);
    assert.ok(m, `not a sample line: ${JSON.stringify(line)}`);
    out.set(m[1], Number(m[2]));
  }
  return out;
}

async function scrape(gw: TestGateway): Promise<Samples> {
  const res = await fetch(`${gw.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return parse(await res.text());
}

const v = (s: Samples, key: string) => s.get(key) ?? 0;

describe("GET /metrics", () => {
  let fake: FakeUpstream;
  let gw: TestGateway;
  relayToFake(
    { fake: { script: "malformed" }, env: { HEARTBEAT_MS: "20" } },
    (p) => ({ fake, gw } = p),
  );

  it("names every metric, with HELP and TYPE", async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    for (
      const [name, type] of [
        ["workflow_open_streams", "gauge"],
        ["workflow_runs", "gauge"],
        ["workflow_runs_started_total", "counter"],
        ["workflow_runs_finished_total", "counter"],
        ["workflow_events_relayed_total", "counter"],
        ["workflow_upstream_malformed_frames_total", "counter"],
        ["workflow_upstream_errors_total", "counter"],
        ["workflow_heartbeats_total", "counter"],
        ["workflow_relay_latency_seconds", "histogram"],
      ]
    ) {
      assert.match(text, new RegExp(`^# TYPE ${name} ${type}$`, "m"), name);
      assert.match(text, new RegExp(`^# HELP ${name} \\S`, "m"), name);
    }
    assert.ok(text.endsWith("\n"));
  });

  it("moves with a relayed run: started, finished, events, malformed frames, latency, status", async () => {
    const before = await scrape(gw);
    const res = await postJson(`${gw.url}/agui`, { graph_name: "hotel_o2c", initial_state: {} });
    assert.equal(res.status, 200);
    const read = await readSse(res);
    assert.equal(read.frames.at(-1)?.event, "workflow_complete");
    await gw.services.gateway.drain();
    const after = await scrape(gw);
    const d = (k: string) => v(after, k) - v(before, k);
    assert.equal(d('workflow_runs_started_total{graph="hotel_o2c"}'), 1);
    assert.equal(d('workflow_runs_finished_total{graph="hotel_o2c",status="complete"}'), 1);
    // workflow_initialized, custom_thing, workflow_complete are relayed; the heartbeat is
    // dropped; bad JSON, a schema miss and a non-object are malformed (a line that is not SSE
    // makes no frame at all).
    assert.equal(d("workflow_events_relayed_total"), 3);
    assert.equal(d("workflow_upstream_malformed_frames_total"), 3);
    assert.ok(d("workflow_relay_latency_seconds_count") >= 1);
    assert.equal(
      v(after, "workflow_relay_latency_seconds_count"),
      v(after, 'workflow_relay_latency_seconds_bucket{le="+Inf"}'),
    );
    assert.equal(d('workflow_runs{status="complete"}'), 1);
  });

  it("counts upstream errors and error runs", async () => {
    fake.setScript("early_close");
    const before = await scrape(gw);
    const res = await postJson(`${gw.url}/agui`, { graph_name: "hotel_o2c", initial_state: {} });
    const read = await readSse(res);
    assert.equal(read.frames.at(-1)?.event, "workflow_error");
    await gw.services.gateway.drain();
    const after = await scrape(gw);
    const d = (k: string) => v(after, k) - v(before, k);
    assert.equal(d('workflow_upstream_errors_total{code="upstream_ended"}'), 1);
    assert.equal(d('workflow_runs_finished_total{graph="hotel_o2c",status="error"}'), 1);
    assert.equal(d('workflow_runs{status="error"}'), 1);
  });

  it("shows open streams and heartbeats while a run idles", async () => {
    fake.setScript("idle");
    const before = await scrape(gw);
    const res = await postJson(`${gw.url}/agui`, {
      graph_name: "hotel_o2c",
      initial_state: {},
      run_id: "metrics-idle",
    });
    const read = await readSse(
      res,
      (r) => r.comments.filter((c) => c.trim() === "heartbeat").length >= 2,
    );
    assert.equal(read.ended, false);
    // The reader cancelled; open a second viewer and scrape while it is open.
    const viewer = await fetch(`${gw.url}/agui/runs/metrics-idle/events`);
    const reader = viewer.body!.getReader();
    await reader.read();
    const during = await scrape(gw);
    assert.equal(v(during, "workflow_open_streams"), 1);
    assert.ok(v(during, "workflow_heartbeats_total") - v(before, "workflow_heartbeats_total") >= 2);
    assert.equal(v(during, 'workflow_runs{status="running"}'), 1);
    await reader.cancel();
    await gw.services.gateway.abort("metrics-idle");
    await gw.services.gateway.drain();
    await poll(() => gw.services.streams.size === 0, 100, 10);
    const end = await scrape(gw);
    assert.equal(v(end, "workflow_open_streams"), 0);
    assert.equal(v(end, 'workflow_runs{status="aborted"}'), 1);
  });
});
