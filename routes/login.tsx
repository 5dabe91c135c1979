import { page } from "fresh";
import { define } from "../lib/define.ts";
import { safeNext } from "../lib/http/access.ts";
import { login } from "../lib/http/login.ts";
import { SiteHeader } from "../components/site_header.tsx";

interface LoginData {
  next: string;
  error?: string;
}

/**
 * `GET /login`: the sign-in form (only when `GATEWAY_TOKEN` is set; else straight to `next`).
 * `POST /login`: checks the token and sets the session cookie (lib/http/login.ts).
 */
export const handler = define.handlers({
  GET(ctx) {
    const next = safeNext(ctx.url.searchParams.get("next"));
    if (!ctx.state.services.config.GATEWAY_TOKEN) {
      return new Response(null, { status: 303, headers: { location: next } });
    }
    return page<LoginData>({ next }, { headers: { "cache-control": "no-store" } });
  },
  async POST(ctx) {
    const { config, loginLimiter } = ctx.state.services;
    const result = await login(ctx.req, config, loginLimiter, ctx.state.clientIp ?? "unknown");
    if (result.ok) return result.response;
    return page<LoginData>({ next: result.next, error: result.error }, {
      status: result.status,
      headers: { "cache-control": "no-store" },
    });
  },
});

/** The sign-in page. */
export default define.page<typeof handler>(({ data }) => (
  <>
    <SiteHeader />
    <main class="narrow" id="main">
      <h1>Sign in</h1>
      <p class="lead">
        This dashboard shows every run's data. Enter the gateway token to continue.
      </p>
      {data.error && <p class="alert" role="alert">{data.error}</p>}
      <form class="login-form" method="post" action="/login">
        <input type="hidden" name="next" value={data.next} />
        <label for="login-token">Gateway token</label>
        <input
          id="login-token"
          name="token"
          type="password"
          autocomplete="current-password"
          required
        />
        <button class="btn primary" type="submit">Sign in</button>
      </form>
    </main>
  </>
));
