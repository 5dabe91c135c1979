import { startFakeUpstream } from "../fixtures/fake_upstream.ts";
import { startGateway } from "../fixtures/gateway.ts";
const fake = await startFakeUpstream({ script: "complete" });
const gw = await startGateway({ WORKFLOW_SERVICE_URL: fake.url, HEARTBEAT_MS: "50" });
for (const depth of [1000, 5000, 20000]) {
  const body = `{"graph_name":"hotel_o2c","initial_state":{"a":${"[".repeat(depth)}${"]".repeat(depth)}}}`;
  const res = await fetch(`${gw.url}/agui`, { method: "POST", headers: { "content-type": "application/json" }, body });
  console.log(depth, res.status, (await res.text()).slice(0, 200));
  const ag = `{"threadId":"t","runId":"r${depth}","messages":[],"state":${"[".repeat(depth)}${"]".repeat(depth)},"tools":[],"context":[],"forwardedProps":{}}`;
  const res2 = await fetch(`${gw.url}/agui`, { method: "POST", headers: { "content-type": "application/json" }, body: ag });
  console.log("agui", depth, res2.status, (await res2.text()).slice(0, 200));
}
const chunked = new ReadableStream({ start(c) { for (let i = 0; i < 100; i++) c.enqueue(new Uint8Array(1024)); c.close(); } });
const r = await fetch(`${gw.url}/agui`, { method: "POST", headers: { "content-type": "application/json" }, body: chunked });
console.log("chunked", r.status, await r.text());
console.log(gw.logs.filter((l) => l.level === "error"));
await gw.close(); await fake.close();
