/**
 * Counts the requests whose responses are still being sent, so a shutdown can wait for the last
 * bytes of closed streams to reach their clients before the process exits. Under `deno serve`
 * (and on Deno Deploy) there is no `HttpServer.shutdown()` to wait on: `Deno.exit` right after
 * closing the streams cut them before their final `: shutdown` comment was written.
 * @module
 */
import { raceTimeout } from "../async.ts";

/** A request handler as `Deno.serve` calls it. */
export type ServeHandler = (req: Request, info?: Deno.ServeHandlerInfo) => Promise<Response>;

/** Requests in flight, and a way to wait until there are none. */
export interface InflightTracker {
  /** `handler`, counting each request until its response was sent (or failed). */
  readonly handler: ServeHandler;
  /** Requests whose responses are not completely sent yet. */
  readonly size: number;
  /**
   * Resolves true once no request is in flight, or false after `maxMs` (a request that waits
   * for something slow must not hold the process).
   */
  idle(maxMs: number): Promise<boolean>;
}

/** Wraps `handler` to track its requests through `info.completed`. */
export function trackInflight(handler: ServeHandler): InflightTracker {
  let size = 0;
  const waiters = new Set<() => void>();
  const done = () => {
    size--;
    if (size === 0) { for (const wake of [...waiters]) wake(); }
  };
  return {
    handler(req, info) {
      // Without `info` (a direct call, not a server) nothing is sent, so nothing is waited for.
      if (!info?.completed) return handler(req, info);
      size++;
      // `completed` rejects when the client went away first: that request is over too.
      info.completed.then(done, done);
      return handler(req, info);
    },
    get size() {
      return size;
    },
    async idle(maxMs) {
      if (size === 0) return true;
      let wake!: () => void;
      const drained = new Promise<boolean>((resolve) => {
        wake = () => resolve(true);
        waiters.add(wake);
      });
      try {
        return await raceTimeout(drained, maxMs, () => false);
      } finally {
        waiters.delete(wake);
      }
    },
  };
}
