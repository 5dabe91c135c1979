import { define } from "../lib/define.ts";
import { handleHealth } from "../lib/gateway/health.ts";
import { metricsAllowed } from "../lib/http/access.ts";

/**
 * `GET /health`: 200 when the workflow service answers, 503 (JSON) when not; the details only
 * for a caller who may read `/metrics` (anyone when no token is set).
 */
export const handler = define.handlers({
  GET: async (ctx) =>
    handleHealth(ctx.state.services, await metricsAllowed(ctx.req, ctx.state.services.config)),
});
