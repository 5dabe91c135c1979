/**
 * `/runs`: the history and analytics page, rendered on the server from the run log of a real
 * gateway (KV in memory), with filters, links to each run, an inline SVG chart and no script.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import type { RunSummary } from "../../lib/events.ts";
import type { FakeUpstream } from "../fixtures/fake_upstream.ts";
import { postJson, relayToFake, type TestGateway } from "../fixtures/gateway.ts";
import { readSse } from "../fixtures/sse_reader.ts";

const iso = (ms: number) => new Date(ms).toISOString();

async function page(gw: TestGateway, query = ""): Promise<string> {
  const res = await fetch(`${gw.url}/runs${query}`, { headers: { accept: "text/html" } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
  return await res.text();
}

/** The text of the element carrying `data-testid="<id>"`. */
function testId(html: string, id: string): string {
  const m = new RegExp(`data-testid="${id}"[^>]*>([^<]*)<`).exec(html);
  assert.ok(m, `no ${id}`);
  return m[1];
}

describe("/runs history and analytics", () => {
  let fake: FakeUpstream;
  let gw: TestGateway;
  const now = Date.now();
  relayToFake({ fake: { script: "complete" } }, (p) => ({ fake, gw } = p));
  before(async () => {
    // Two real runs through the relay: one complete, one waiting at its approval gate.
    const done = await postJson(`${gw.url}/agui`, {
      graph_name: "hotel_o2c",
      initial_state: { prompt: "Quiet room" },
      run_id: "real-complete",
    });
    await readSse(done);
    fake.setScript("hotel");
    const gate = await postJson(`${gw.url}/agui`, {
      graph_name: "hotel_o2c",
      initial_state: {},
      run_id: "real-waiting",
    });
    await readSse(gate, (r) => r.frames.some((f) => f.event === "approval_required"));
    await gw.services.gateway.drain();
    // Older history written straight into the log, with known durations and outcomes.
    const seed = (id: string, minutesAgo: number, over: Partial<RunSummary>) =>
      gw.services.store.create({
        id,
        graph: "purchase_order",
        dialect: "workflow",
        status: "complete",
        createdAt: iso(now - minutesAgo * 60_000),
        updatedAt: iso(now - minutesAgo * 60_000),
        eventCount: 0,
        ...over,
      });
    await seed("po-ok", 30, { finishedAt: iso(now - 30 * 60_000 + 2_000) });
    await seed("po-failed", 20, {
      status: "error",
      finishedAt: iso(now - 20 * 60_000 + 8_000),
      error: { code: "upstream_ended", message: "The workflow service ended the stream" },
    });
    await seed("po-old", 3 * 24 * 60, { finishedAt: iso(now - 3 * 86_400_000 + 1000) });
  });

  it("shows counts, success rate, percentiles, pending approvals, failures and links", async () => {
    const html = await page(gw);
    assert.equal(testId(html, "total"), "4", "the 3-day-old run is outside the default 24 h");
    // Finished: real-complete, po-ok (complete), po-failed (error) → 2/3.
    assert.equal(testId(html, "success-rate"), "66.7 %");
    assert.equal(testId(html, "pending-count"), "1");
    assert.match(
      html,
      /data-testid="pending"[\s\S]*href="\/runs\/real-waiting"[\s\S]*approve_quote/,
    );
    assert.match(
      html,
      /data-testid="failures"[\s\S]*href="\/runs\/po-failed"[\s\S]*upstream_ended[\s\S]*The workflow service ended the stream/,
    );
    for (const id of ["real-complete", "real-waiting", "po-ok", "po-failed"]) {
      assert.match(html, new RegExp(`href="/runs/${id}"`), id);
    }
    assert.doesNotMatch(html, /po-old/);
    // Per graph and status.
    assert.match(html, /<tr data-graph="purchase_order">[\s\S]*?data-status="error">1</);
    assert.match(html, /<tr data-graph="hotel_o2c">[\s\S]*?data-status="waiting_approval">1</);
    // p95 over po-ok (2 s), po-failed (8 s) and the real run (well under a second) is 8 s.
    assert.equal(testId(html, "p95"), "8.0 s");
  });

  it("draws the chart as inline SVG and ships no script", async () => {
    const html = await page(gw);
    assert.match(html, /<svg[^>]*data-testid="runs-chart"/);
    assert.match(html, /<rect class="an-bar an-succeeded"/);
    assert.match(html, /<rect class="an-bar an-failed"/);
    assert.doesNotMatch(html, /<script/i);
    assert.doesNotMatch(html, /style="/, "the CSP allows no inline styles");
    assert.match(html, /href="\/analytics\.css/);
  });

  it("filters by graph, status and time range", async () => {
    const po = await page(gw, "?graph=purchase_order");
    assert.equal(testId(po, "total"), "2");
    assert.doesNotMatch(po, /href="\/runs\/real-complete"/);
    assert.match(po, /<option value="purchase_order" selected/);

    const errors = await page(gw, "?status=error");
    assert.equal(testId(errors, "total"), "1");
    assert.match(errors, /href="\/runs\/po-failed"/);

    const all = await page(gw, "?range=all");
    assert.equal(testId(all, "total"), "5");
    assert.match(all, /href="\/runs\/po-old"/);

    const hour = await page(gw, "?range=1h&graph=purchase_order");
    assert.equal(testId(hour, "total"), "2");
  });

  it("ignores malformed filters instead of failing", async () => {
    const html = await page(gw, "?graph=%3Cscript%3E&status=nope&range=forever");
    assert.equal(testId(html, "total"), "4");
    assert.doesNotMatch(html, /<script/i);
  });

  it("serves the stylesheet it links", async () => {
    const res = await fetch(`${gw.url}/analytics.css`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /\.an-bar|\.an-succeeded/);
  });
});
