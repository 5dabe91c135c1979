import { define } from "../lib/define.ts";
import { logout } from "../lib/http/login.ts";

/** `POST /logout`: ends the dashboard session (same-origin form only) → `/login`. */
export const handler = define.handlers({
  POST: (ctx) => logout(ctx.req),
});
