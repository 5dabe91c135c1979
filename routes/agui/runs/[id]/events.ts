import { define } from "../../../../lib/define.ts";
import { handleEvents } from "../../../../lib/gateway/http.ts";

/** `GET /agui/runs/:id/events`: replay after `Last-Event-ID`, then tail until the terminal event. */
export const handler = define.handlers({
  GET: (ctx) => handleEvents(ctx.req, ctx.params.id, ctx.state.services),
});
