import { HttpError, page } from "fresh";
import { define } from "../lib/define.ts";
import { ApiError, errorResponse, toErrorResponse } from "../lib/http/errors.ts";

/** Whether the failed request is an API call (JSON answer) rather than a page view. */
function wantsJson(url: URL, req: Request): boolean {
  return url.pathname === "/agui" || url.pathname.startsWith("/agui/") ||
    url.pathname === "/health" || !(req.headers.get("accept") ?? "").includes("text/html");
}

/**
 * Every failure: API paths get the JSON error body with the right status (`ApiError` carries
 * it); pages get a readable error page. Internals never reach the client.
 */
export const handler = define.handlers((ctx) => {
  const err = ctx.error;
  if (err instanceof ApiError) return toErrorResponse(err);
  const status = err instanceof HttpError ? err.status : 500;
  if (wantsJson(ctx.url, ctx.req)) {
    const code = status === 404 ? "not_found" : status === 500 ? "internal_error" : "http_error";
    const message = err instanceof HttpError && err.message
      ? err.message
      : status === 404
      ? `No route for ${ctx.url.pathname}`
      : "Internal server error";
    return errorResponse(status, code, message);
  }
  return page({ status }, { status });
});

/** The HTML error page. */
export default define.page<typeof handler>(({ data }) => (
  <main class="error-page">
    <h1>{data.status === 404 ? "Page not found" : "Something went wrong"}</h1>
    <p>
      {data.status === 404
        ? "There is nothing at this address."
        : "The server could not complete this request. Try again in a moment."}
    </p>
    <p>
      <a href="/">Back to the console</a>
    </p>
  </main>
));
