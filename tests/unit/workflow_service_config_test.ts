/**
 * The gateway's services hand `WORKFLOW_STEP_DELAY_MS` to the built-in workflow service
 * (lib/services.ts). The service logs the delay it runs with when its engine loads: that is the
 * exact check. The runs show the effect: with a delay no test waits for, the first step is still
 * pending when the run is aborted; with 0 the run reaches its approval gate on its own. No
 * timing is measured.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EventSourceParserStream } from "eventsource-parser/stream";
import { checkEvent } from "../../lib/events.ts";
import { loadConfig } from "../../lib/config.ts";
import { createLogger } from "../../lib/log.ts";
import { createServices, type Services } from "../../lib/services.ts";

type Log = Record<string, unknown>;

async function withBuiltIn(
  stepDelayMs: string,
  fn: (services: Services, logs: Log[]) => Promise<void>,
): Promise<void> {
  const config = loadConfig({
    KV_PATH: ":memory:",
    WORKFLOW_STEP_DELAY_MS: stepDelayMs,
    LOG_LEVEL: "info",
  });
  const logs: Log[] = [];
  const services = await createServices(config, {
    logger: createLogger("info", (line) => logs.push(JSON.parse(line))),
  });
  try {
    await fn(services, logs);
  } finally {
    await services.close();
  }
}

/** The event types of an upstream stream to its end, each validated; `onEvent` sees each. */
async function readTypes(
  stream: ReadableStream<Uint8Array>,
  onEvent: (type: string) => Promise<void> | void = () => {},
): Promise<string[]> {
  const types: string[] = [];
  // Through a Response: its body is typed as the byte stream TextDecoderStream accepts.
  const events = new Response(stream).body!.pipeThrough(new TextDecoderStream())
    .pipeThrough(new EventSourceParserStream());
  for await (const ev of events) {
    const type = ev.event ?? "message";
    const check = checkEvent(type, ev.data);
    assert.ok(check.ok, `invalid ${type}`);
    types.push(type);
    await onEvent(type);
  }
  return types;
}

const START = {
  graph_name: "hotel_o2c",
  initial_state: { prompt: "Create a hotel reservation for John Doe" },
};

function engineLog(logs: Log[]): Log | undefined {
  return logs.find((l) => l.component === "workflow_service" && l.msg === "workflow engine loaded");
}

describe("WORKFLOW_STEP_DELAY_MS reaches the built-in workflow service", () => {
  it("a long delay holds the first step until the run is aborted", async () => {
    await withBuiltIn("60000", async (services, logs) => {
      const stream = await services.upstream.execute({ ...START, thread_id: "delay-long" });
      let aborted = false;
      const types = await readTypes(stream, async (type) => {
        if (type === "step_started" && !aborted) {
          aborted = true;
          await services.upstream.abort("delay-long");
        }
      });
      assert.deepEqual(types, ["workflow_initialized", "step_started", "workflow_aborted"]);
      assert.equal(engineLog(logs)?.step_delay_ms, 60_000);
    });
  });

  it("no delay runs on to the approval gate", async () => {
    await withBuiltIn("0", async (services, logs) => {
      const stream = await services.upstream.execute({ ...START, thread_id: "delay-none" });
      const types = await readTypes(stream);
      assert.equal(types.at(-1), "approval_required");
      assert.ok(types.includes("step_completed"));
      assert.equal(engineLog(logs)?.step_delay_ms, 0);
      await services.upstream.abort("delay-none");
    });
  });
});
