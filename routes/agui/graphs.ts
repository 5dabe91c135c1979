import { define } from "../../lib/define.ts";
import { handleGraphs } from "../../lib/gateway/http.ts";

/** `GET /agui/graphs`: the workflow service's graphs, for the console's picker. */
export const handler = define.handlers({
  GET: (ctx) => handleGraphs(ctx.state.services.upstream, ctx.state.services.logger),
});
