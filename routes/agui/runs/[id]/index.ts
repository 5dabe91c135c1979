import { define } from "../../../../lib/define.ts";
import { handleGetRun } from "../../../../lib/gateway/http.ts";

/** `GET /agui/runs/:id`: one run's summary. */
export const handler = define.handlers({
  GET: (ctx) => handleGetRun(ctx.params.id, ctx.state.services.store),
});
