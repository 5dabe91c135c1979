import { define } from "../../lib/define.ts";
import { handleStart } from "../../lib/gateway/http.ts";

/** `POST /agui`: start (or attach to) a run and stream it, workflow or AG-UI dialect. */
export const handler = define.handlers({
  POST: (ctx) => handleStart(ctx.req, ctx.state.services),
});
