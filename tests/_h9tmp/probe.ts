import { startFakeUpstream } from "../fixtures/fake_upstream.ts";
import { postJson, startGateway } from "../fixtures/gateway.ts";
const fake = await startFakeUpstream();
const gw = await startGateway({ WORKFLOW_SERVICE_URL: fake.url, HEARTBEAT_MS: "50" });
const r = await postJson(`${gw.url}/agui`, { graph_name: "hotel_o2c", initial_state: { prompt: "hi" } });
await r.body?.cancel();
const show = async (label: string, p: Promise<Response>) => {
  try {
    const res = await p;
    const t = await res.text();
    console.log(label, res.status, res.headers.get("content-type"), res.headers.get("x-request-id"), t.slice(0, 120));
  } catch (e) { console.log(label, "ERR", String(e)); }
};
await show("runs", fetch(`${gw.url}/runs`, { headers: { accept: "text/html" } }));
await show("put agui", fetch(`${gw.url}/agui`, { method: "PUT" }));
await show("delete health", fetch(`${gw.url}/health`, { method: "DELETE" }));
await show("get agui", fetch(`${gw.url}/agui`));
await show("huge header", fetch(`${gw.url}/agui`, { method: "POST", headers: { "x-big": "a".repeat(200_000), "content-type": "application/json" }, body: "{}" }));
await show("bad id", fetch(`${gw.url}/agui/runs/..%2F..%2Fetc/events`));
await show("bad id2", fetch(`${gw.url}/agui/runs/%FF%FE/events`));
await show("unknown", fetch(`${gw.url}/agui/nope`));
await show("patch run", fetch(`${gw.url}/agui/runs/abc`, { method: "PATCH" }));
await show("head agui runs", fetch(`${gw.url}/agui/runs`, { method: "HEAD" }));
await show("metrics", fetch(`${gw.url}/metrics`));
console.log(gw.logs.slice(-4));
await gw.close(); await fake.close();
