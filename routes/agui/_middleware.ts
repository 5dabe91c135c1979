import { define } from "../../lib/define.ts";
import { guardApi } from "../../lib/gateway/guard.ts";

/**
 * Every `/agui*` request: CORS (preflight answered here), the `GATEWAY_TOKEN` check (bearer or
 * session cookie), per-client limits, and failures turned into JSON `{error, message}` with the
 * right status.
 */
export const handler = define.middleware((ctx) =>
  // The info itself, not a copy of its `completed`: the guard asks for that only when it needs it.
  guardApi(ctx.req, ctx.state, () => ctx.next(), ctx.info)
);
