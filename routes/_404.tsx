import { page } from "fresh";
import { define } from "../lib/define.ts";
import { ApiError, errorResponse, toErrorResponse } from "../lib/http/errors.ts";

/** Unknown paths: JSON for API clients, a page for browsers. */
export const handler = define.handlers((ctx) => {
  // A thrown 404 (unknown run, unknown graph) keeps its own JSON body.
  if (ctx.error instanceof ApiError) return toErrorResponse(ctx.error);
  const html = (ctx.req.headers.get("accept") ?? "").includes("text/html");
  if (!html || ctx.url.pathname.startsWith("/agui")) {
    return errorResponse(404, "not_found", `No route for ${ctx.url.pathname}`);
  }
  return page(undefined, { status: 404 });
});

/** The HTML 404 page. */
export default define.page(() => (
  <main class="error-page">
    <h1>Page not found</h1>
    <p>There is nothing at this address.</p>
    <p>
      <a href="/">Back to the console</a>
    </p>
  </main>
));
