import { define } from "../../../../lib/define.ts";
import { handleAbort } from "../../../../lib/gateway/http.ts";

/** `POST /agui/runs/:id/abort`: stop the run; it ends with `workflow_aborted` → 202. */
export const handler = define.handlers({
  POST: (ctx) => handleAbort(ctx.params.id, ctx.state.services.gateway),
});
