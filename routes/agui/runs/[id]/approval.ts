import { define } from "../../../../lib/define.ts";
import { handleApproval } from "../../../../lib/gateway/http.ts";

/** `POST /agui/runs/:id/approval`: approve or reject the waiting step → 202. */
export const handler = define.handlers({
  POST: (ctx) => {
    const { gateway, config } = ctx.state.services;
    return handleApproval(ctx.req, ctx.params.id, { gateway, bodyLimits: config });
  },
});
