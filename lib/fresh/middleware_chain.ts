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
export function runChain<State>(
  ctx: Context<State>,
  middlewares: Middleware<State>[],
  last: () => Promise<Response>,
): Promise<Response> {
  // Promise chains, not async functions: every layer of every request stays suspended for as
  // long as its handler runs (a run's start awaits the workflow service), and an async
  // function's suspended frame and promises cost more memory than one `then` per layer.
  const step = (i: number): Promise<Response> => {
    if (i >= middlewares.length) return last();
    const mw = middlewares[i];
    // Each layer gets its own next(); it is restored after the inner layers ran, so a
    // middleware that calls next() late (or twice) continues from its own position.
    const restore = () => {
      ctx.next = next;
    };
    const next = (): Promise<Response> => {
      let inner: Promise<Response>;
      try {
        inner = step(i + 1);
      } catch (err) {
        restore();
        return Promise.reject(err);
      }
      return inner.finally(restore);
    };
    ctx.next = next;
    return Promise.resolve(mw(ctx)).then((res) => {
      if (!(res instanceof Response)) {
        throw new TypeError(`Middleware ${mw.name || i} did not return a Response`);
      }
      return res;
    });
  };
  try {
    return step(0);
  } catch (err) {
    return Promise.reject(err);
  }
}
