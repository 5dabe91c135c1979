/**
 * Running a request through a middleware chain: each middleware gets a `ctx.next()` that runs the
 * rest of the chain and then `last` (the route's handler).
 * @module
 */
import type { Context } from "./context.ts";
import type { Middleware } from "./handlers.ts";

/**
 * Runs `middlewares` in order on `ctx`, then `last`; resolves with the response the first layer
 * returned.
 * @throws {TypeError} when a middleware returns something other than a Response.
 */
export async function runChain<State>(
  ctx: Context<State>,
  middlewares: Middleware<State>[],
  last: () => Promise<Response>,
): Promise<Response> {
  const step = async (i: number): Promise<Response> => {
    if (i >= middlewares.length) return await last();
    // Each layer gets its own next(); it is restored after the inner layers ran, so a
    // middleware that calls next() late (or twice) continues from its own position.
    const next = async (): Promise<Response> => {
      try {
        return await step(i + 1);
      } finally {
        ctx.next = next;
      }
    };
    ctx.next = next;
    const res = await middlewares[i](ctx);
    if (!(res instanceof Response)) {
      throw new TypeError(`Middleware ${middlewares[i].name || i} did not return a Response`);
    }
    return res;
  };
  return await step(0);
}
