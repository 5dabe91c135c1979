/**
 * `deno task workflow`: serves the built-in workflow service alone on `WORKFLOW_HOST` (default
 * 127.0.0.1) and `WORKFLOW_PORT` (default 8001), with `WORKFLOW_SERVICE_TOKEN` as its bearer
 * token (required when `WORKFLOW_HOST` is not a loopback address) and `WORKFLOW_STEP_DELAY_MS`
 * between steps. Point the gateway at it with `WORKFLOW_SERVICE_URL=http://127.0.0.1:8001`.
 * Threads and checkpoints live in the Deno KV file `KV_PATH` (default `./data/workflow.kv`, a
 * sibling of the run log; `:memory:` keeps nothing), so a waiting run survives a restart and a
 * run cut by a crash goes on when it is next touched. Logs one JSON line when listening;
 * SIGINT/SIGTERM stop running threads where they are (the next start goes on with them).
 * @module
 */
import { ConfigError, loadConfig } from "../lib/config.ts";
import { createLogger } from "../lib/log.ts";
import { createWorkflowService, DEFAULT_WORKFLOW_KV_PATH } from "../lib/workflow_service/mod.ts";
import { bindProblem } from "../lib/workflow_service/bind.ts";

let config;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(err.message);
  Deno.exit(2);
}

const problem = bindProblem(config.WORKFLOW_HOST, config.WORKFLOW_SERVICE_TOKEN);
if (problem) {
  console.error(problem);
  Deno.exit(2);
}

const log = createLogger(config.LOG_LEVEL, undefined, { service: "workflow" });
const kvPath = config.KV_PATH ?? DEFAULT_WORKFLOW_KV_PATH;
if (kvPath !== ":memory:" && !/^https?:/.test(kvPath)) {
  const dir = kvPath.replace(/[^/]*$/, "");
  if (dir) await Deno.mkdir(dir, { recursive: true });
}
const kv = await Deno.openKv(kvPath);
const service = createWorkflowService({
  stepDelayMs: config.WORKFLOW_STEP_DELAY_MS,
  token: config.WORKFLOW_SERVICE_TOKEN,
  logger: log,
  kv,
  memoryCheckpoints: kvPath === ":memory:",
  retention: config.WORKFLOW_EVENT_RETENTION,
  leaseMs: config.WORKFLOW_LEASE_MS,
  // Runs cut by a crash go on soon after their lease lapses, even when no gateway rejoins them.
  orphanScanMs: kvPath === ":memory:" ? 0 : config.WORKFLOW_LEASE_MS,
});

const server = Deno.serve({
  hostname: config.WORKFLOW_HOST,
  port: config.WORKFLOW_PORT,
  onListen({ hostname, port }) {
    log.info("workflow service listening", {
      hostname,
      url: `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`,
      auth: config.WORKFLOW_SERVICE_TOKEN ? "bearer" : "none",
      step_delay_ms: config.WORKFLOW_STEP_DELAY_MS,
      kv: kvPath === ":memory:" ? "memory" : "file",
    });
  },
}, (req) => service.handler(req));

let stopping = false;
async function stop(signal: Deno.Signal): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info("workflow service stopping", { signal });
  // Threads first, so their streams end with a terminal event before the sockets close.
  await service.close();
  await server.shutdown();
  kv.close();
  Deno.removeSignalListener("SIGINT", onInt);
  Deno.removeSignalListener("SIGTERM", onTerm);
  log.info("workflow service stopped");
}
const onInt = () => void stop("SIGINT");
const onTerm = () => void stop("SIGTERM");
Deno.addSignalListener("SIGINT", onInt);
Deno.addSignalListener("SIGTERM", onTerm);
