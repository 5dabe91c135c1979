import { define } from "../../../lib/define.ts";
import { handleListRuns } from "../../../lib/gateway/http.ts";

/** `GET /agui/runs`: runs newest first, filtered by status and graph, paginated. */
export const handler = define.handlers({
  GET: (ctx) => handleListRuns(ctx.url, ctx.state.services.store),
});
