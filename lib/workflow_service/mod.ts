/**
 * The built-in workflow service: deterministic business workflows on LangGraph.js, served as
 * `POST /execute` (SSE), `GET /runs/{thread_id}/stream` (rejoin after an event id),
 * `POST /abort`, `GET /health` and `GET /graphs`, with its threads and checkpoints on Deno KV.
 *
 * Importing this module is cheap: LangGraph is loaded by a dynamic `import()` on the first
 * `/execute`, so `GET /graphs` and `GET /health` never pay for it.
 *
 * ```ts
 * const service = createWorkflowService({ stepDelayMs: 400, kv: await Deno.openKv("./wf.kv") });
 * Deno.serve((req) => service.handler(req));
 * ```
 * @module
 */
export {
  createWorkflowService,
  DEFAULT_EVENT_RETENTION,
  DEFAULT_WORKFLOW_KV_PATH,
  DEFAULT_WORKFLOW_LEASE_MS,
  type WorkflowService,
  type WorkflowServiceOptions,
} from "./service.ts";
export { listGraphs, WORKFLOWS } from "./graphs.ts";
export type {
  ArtifactDoc,
  GateStep,
  JsonObject,
  StepSpec,
  TaskStep,
  WorkflowSpec,
} from "./spec.ts";
