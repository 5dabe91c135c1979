/**
 * The start admission: at most `MAX_STARTING_RUNS` run starts (`POST /agui`) are inside the app
 * at once, from their first middleware to their answer (the run created and the workflow
 * service's answer, or an error); the others wait their turn in arrival order before the app
 * does any work on them. A start waiting here holds its request and its body, nothing else: in
 * the app it also held the middleware chain, its context and the start's own state (~12 KB of
 * V8 heap, `bench/heap_per_stream.ts --waiting`), and a burst of starts that queues keeps that
 * alive through the scavenges V8 runs meanwhile (docs/performance.md).
 *
 * What a client controls never holds a place: a start takes one only once its whole body is
 * here (read within `MAX_BODY_BYTES` and `BODY_TIMEOUT_MS`, then handed to the app's own read).
 * A start the app refuses without a place goes to it at once: one whose body failed (the app's
 * read answers the 413 or 408), and, unread, one it would refuse before reading its body (not
 * JSON; with `GATEWAY_TOKEN` set, no valid credential). After shutdown, waiting starts go to the
 * app, which refuses them (503).
 * @module
 */
import type { Config } from "../config.ts";
import { credentialOf } from "./access.ts";
import { isJsonContentType, readAhead } from "./body.ts";
import type { ServeHandler } from "./inflight.ts";

/** Places taken in arrival order (the gateway's `StartGate`). */
export interface Places {
  /** Takes a place: undefined when one was free, else a promise of one (rejects once closed). */
  enter(): Promise<void> | undefined;
  /** Gives a place back. */
  leave(): void;
}

/** What the admission needs: the places, and the limits of a start's credential and body. */
export interface StartAdmissionDeps {
  /** The places (`MAX_STARTING_RUNS`); closed at shutdown. */
  gate: Places;
  /** The token check and the body limits, as the app applies them. */
  config: Pick<Config, "GATEWAY_TOKEN" | "MAX_BODY_BYTES" | "BODY_TIMEOUT_MS">;
}

/** The path of a request URL (`http://host/p?q` → `/p`), without parsing the whole URL. */
function pathOf(url: string): string {
  const from = url.indexOf("/", url.indexOf("://") + 3);
  if (from < 0) return "/";
  const query = url.indexOf("?", from);
  return query < 0 ? url.slice(from) : url.slice(from, query);
}

/** True for a request that starts a run (or attaches to one): `POST /agui`. */
export function isStartRequest(req: Request): boolean {
  return req.method === "POST" && pathOf(req.url) === "/agui";
}

/** `handler` behind the start admission (see the module doc); other requests pass straight. */
export function admitStarts(handler: ServeHandler, deps: StartAdmissionDeps): ServeHandler {
  const { gate, config } = deps;
  const leave = () => gate.leave();
  /** Runs `req` in the place it holds, and gives the place back once it is answered. */
  const inPlace: ServeHandler = (req, info) => {
    let res: Promise<Response>;
    try {
      res = handler(req, info);
    } catch (err) {
      leave();
      return Promise.reject(err);
    }
    return res.finally(leave);
  };
  const admit = async (req: Request, info?: Deno.ServeHandlerInfo): Promise<Response> => {
    // What the app refuses before reading a body takes no place and reads nothing here.
    if (
      !isJsonContentType(req) ||
      (config.GATEWAY_TOKEN && await credentialOf(req, config) === null)
    ) {
      return await handler(req, info);
    }
    // A body that failed (too large, too slow) needs no place for the app to answer that.
    if (!await readAhead(req, config)) return await handler(req, info);
    const turn = gate.enter();
    if (turn !== undefined) {
      try {
        await turn;
      } catch {
        // Shut down while it waited: no place, and the app answers that it is shutting down.
        return await handler(req, info);
      }
    }
    return await inPlace(req, info);
  };
  return (req, info) => isStartRequest(req) ? admit(req, info) : handler(req, info);
}
