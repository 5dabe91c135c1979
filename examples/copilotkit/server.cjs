/**
 * The CopilotKit runtime (`@copilotkit/runtime` 1.75) in front of the Workflow Stream gateway:
 * one AG-UI agent, `workflows`, an `HttpAgent` posting to the gateway's `/agui`, and the gateway
 * runner, so a reconnect (the page reloaded, the runtime restarted, the Stop button) shows the
 * gateway's run as it is, its approval gate included. It also serves `index.html`, a minimal page
 * that drives the runtime's REST endpoints.
 *
 *   GATEWAY_URL  the gateway's origin (default http://localhost:8000)
 *   GATEWAY_TOKEN  its bearer token, when the gateway has one
 *   PORT         this server's port (default 4000; 0 picks a free one), HOST (default 127.0.0.1)
 *
 * It prints one JSON line `{"msg":"copilotkit runtime listening","url":…}` once it listens.
 */
"use strict";
const http = require("node:http");
const fs = require("node:fs");
const path = require("node:path");
const { CopilotRuntime, InMemoryAgentRunner } = require("@copilotkit/runtime/v2");
const { createCopilotNodeListener } = require("@copilotkit/runtime/v2/node");
const { HttpAgent } = require("@ag-ui/client");
const { Observable } = require("rxjs");
const { createGatewayRunner } = require("../../integrations/copilotkit/gateway_runner.cjs");

const gatewayUrl = (process.env.GATEWAY_URL ?? "http://localhost:8000").replace(/\/+$/, "");
const headers = process.env.GATEWAY_TOKEN
  ? { authorization: `Bearer ${process.env.GATEWAY_TOKEN}` }
  : {};
const basePath = "/api/copilotkit";

const runtime = new CopilotRuntime({
  agents: { workflows: new HttpAgent({ url: `${gatewayUrl}/agui`, headers }) },
  runner: createGatewayRunner({ InMemoryAgentRunner, Observable }, { gatewayUrl, headers }),
});
const copilotkit = createCopilotNodeListener({ runtime, basePath, activateChannels: false });
const page = fs.readFileSync(path.join(__dirname, "index.html"));

const server = http.createServer((req, res) => {
  if (req.url === "/" || req.url === "/index.html") {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(page);
    return;
  }
  if (req.url?.startsWith(basePath + "/") || req.url === basePath) return copilotkit(req, res);
  res.writeHead(404, { "content-type": "application/json" })
    .end(JSON.stringify({ error: "not_found", message: "No such route" }));
});

server.listen(Number(process.env.PORT ?? 4000), process.env.HOST ?? "127.0.0.1", () => {
  const { address, port } = server.address();
  const url = `http://${address}:${port}`;
  console.error(
    JSON.stringify({
      msg: "copilotkit runtime listening",
      url,
      runtime: url + basePath,
      gatewayUrl,
    }),
  );
});

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
