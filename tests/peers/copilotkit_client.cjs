/**
 * A CopilotKit page without the page: `CopilotKitCore` (`@copilotkit/core` 1.75) in Node, one
 * fresh core per invocation (a page load), against a CopilotKit runtime. Prints one JSON line,
 * `{events, pending, state}` (the AG-UI event types the agent saw, its pending interrupts, its
 * state), and exits.
 *
 *   node copilotkit_client.cjs run <runtimeUrl> <threadId> <graph> <prompt>
 *   node copilotkit_client.cjs connect <runtimeUrl> <threadId>
 *   node copilotkit_client.cjs resume <runtimeUrl> <threadId> <approve|reject>
 *   node copilotkit_client.cjs stop <runtimeUrl> <threadId> <graph> <prompt>
 *
 * `resume` reconnects first (as a reloaded page does) and answers the interrupt it shows with an
 * AG-UI `resume` entry (the run gets a new runId). `stop` starts a run and presses Stop once the
 * first step has started.
 */
"use strict";
// CopilotKitCore expects a browser global.
globalThis.window = globalThis;
const { CopilotKitCore } = require("@copilotkit/core");

const [command, runtimeUrl, threadId, ...rest] = process.argv.slice(2);

async function main() {
  const core = new CopilotKitCore({ runtimeUrl });
  for (
    let i = 0;
    i < 200 && core.runtimeConnectionStatus !== "connected";
    i++
  ) {
    await new Promise((r) => setTimeout(r, 25));
  }
  if (core.runtimeConnectionStatus !== "connected") {
    throw new Error("runtime not connected");
  }
  const agent = core.getAgent("workflows");
  agent.threadId = threadId;
  const events = [];
  let firstStep;
  const stepped = new Promise((resolve) => (firstStep = resolve));
  agent.subscribe({
    onEvent: ({ event }) => {
      events.push(event.type);
      if (event.type === "STEP_STARTED") firstStep();
    },
  });
  const start = (graph, prompt) => {
    agent.addMessage({
      id: crypto.randomUUID(),
      role: "user",
      content: prompt,
    });
    return core.runAgent({ agent, forwardedProps: { graph_name: graph } });
  };
  if (command === "run") {
    await start(rest[0], rest[1]);
  } else if (command === "connect") {
    await core.connectAgent({ agent });
  } else if (command === "resume") {
    await core.connectAgent({ agent });
    const [interrupt] = agent.pendingInterrupts;
    if (!interrupt) throw new Error("no pending interrupt after the reconnect");
    events.push("--resume--");
    const decision = rest[0];
    await core.runAgent({
      agent,
      resume: [{
        interruptId: interrupt.id,
        status: "resolved",
        payload: { decision },
      }],
    });
  } else if (command === "stop") {
    const run = start(rest[0], rest[1]);
    await stepped;
    core.stopAgent({ agent });
    await run.catch(() => {});
  } else {
    throw new Error(`unknown command ${command}`);
  }
  const out = { events, pending: agent.pendingInterrupts, state: agent.state };
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(String(err?.stack ?? err) + "\n");
  process.exit(1);
});
