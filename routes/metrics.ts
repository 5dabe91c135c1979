import { define } from "../lib/define.ts";
import { handleMetrics } from "../lib/gateway/health.ts";

/** `GET /metrics`: Prometheus text. */
export const handler = define.handlers({
  GET: (ctx) => handleMetrics(ctx.state.services),
});
