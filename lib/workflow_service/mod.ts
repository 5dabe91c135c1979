/**
 * The built-in workflow service (the same contract any `WORKFLOW_SERVICE_URL` speaks): deterministic business workflows on LangGraph.js,
 * served as `POST /execute` (SSE), `POST /abort`, `GET /health` and `GET /graphs`.
 *
 * Importing this module is cheap: LangGraph is loaded by a dynamic `import()` on the first
 * `/execute`, so `GET /graphs` and `GET /health` never pay for it.
 *
 * ```ts
 * const service = createWorkflowService({ stepDelayMs: 400 });
 * Deno.serve((req) => service.handler(req));
 * ```
 * @module
 */
export {
  createWorkflowService,
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
