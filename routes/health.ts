import { define } from "../lib/define.ts";
import { handleHealth } from "../lib/gateway/health.ts";

/** `GET /health`: 200 when the workflow service answers, 503 (JSON) when not. */
export const handler = define.handlers({
  GET: (ctx) => handleHealth(ctx.state.services),
});
