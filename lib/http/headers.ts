/**
 * A budget on the total size of a request's headers. Deno's server refuses only what passes its
 * own limit (~64 KiB), and then with a bodiless 400; below that, tens of kilobytes of headers
 * would reach every handler. Past the budget the answer is a JSON 431 like every other refusal.
 * @module
 */
import { errorResponse } from "./errors.ts";

/**
 * The headers' size as sent on an HTTP/1.1 wire: `name: value\r\n` per header (repeated headers
 * arrive joined, which only undercounts by a few bytes each).
 */
export function requestHeaderBytes(headers: Headers): number {
  let n = 0;
  // forEach, not for-of: no iterator result and no [name, value] array per header.
  headers.forEach((value, name) => {
    n += name.length + value.length + 4;
  });
  return n;
}

/** The 431 JSON answer when `req`'s headers exceed `maxBytes`, else null. */
export function checkHeaderBudget(req: Request, maxBytes: number): Response | null {
  const size = requestHeaderBytes(req.headers);
  if (size <= maxBytes) return null;
  return errorResponse(
    431,
    "headers_too_large",
    `Request headers take ${size} bytes; at most ${maxBytes} are accepted`,
  );
}
