// A real AG-UI server for the tests: @ag-ui/langgraph's LangGraphAgent (one per graph of the
// LangGraph dev server at LANGGRAPH_URL) served by the CopilotKit runtime's REST listener:
// POST /agent/{graph}/run. Prints `{"listening": "<url>"}` once it accepts connections.
import { createServer } from "node:http";
import { CopilotRuntime } from "@copilotkit/runtime/v2";
import { createCopilotNodeListener } from "@copilotkit/runtime/v2/node";
import { LangGraphAgent } from "@ag-ui/langgraph";

const deploymentUrl = process.env.LANGGRAPH_URL;
const graphs = (process.env.GRAPHS ?? "approval_flow,failing_flow,custom_flow").split(",");
const agents = Object.fromEntries(
  graphs.map((graphId) => [graphId, new LangGraphAgent({ deploymentUrl, graphId })]),
);
const listener = createCopilotNodeListener({ runtime: new CopilotRuntime({ agents }) });
const server = createServer(listener);
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  const { port } = server.address();
  console.log(JSON.stringify({ listening: `http://127.0.0.1:${port}` }));
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
