/**
 * The one piece every translating protocol module shares: read an upstream SSE body, turn each
 * frame into workflow-vocabulary events (each with its own upstream `id:`), and hand the relay a
 * workflow-vocabulary SSE body, as if the service spoke the `/execute` contract itself.
 * @module
 */
import { encodeEvent, textEncoder } from "../../sse/encode.ts";
import { createFrameParser, type SseFrame } from "../../sse/parse.ts";
import { describe, UpstreamError } from "../upstream_errors.ts";

/** One translated event: its upstream id (opaque to the relay), type and data. */
export interface OutEvent {
  /** The id the relay keeps to rejoin after this event; ordered by `Upstream.isAfter`. */
  id: string;
  /** A workflow event type. */
  type: string;
  /** The event's data (`workflowId` and `ts` included). */
  data: Record<string, unknown>;
}

/** What a protocol module does with one upstream stream. */
export interface FrameTranslator {
  /** The events one upstream frame means (none for frames that mean nothing here). */
  frame(frame: SseFrame): OutEvent[];
  /**
   * The events that follow the upstream's clean end (e.g. the terminal event read back from the
   * service's run status). Throwing errors the stream (the relay then records the failure).
   */
  end(): Promise<OutEvent[]>;
  /**
   * The upstream read failed: events that end the stream cleanly instead (e.g. the terminal of
   * an abort this module asked for), or null to error the stream.
   */
  broke?(error: unknown): OutEvent[] | null;
}

/** Encodes translated events as workflow-vocabulary SSE. */
export function encodeOut(events: OutEvent[]): Uint8Array {
  let text = "";
  for (const ev of events) {
    text += encodeEvent({ id: ev.id, event: ev.type, data: JSON.stringify(ev.data) });
  }
  return textEncoder.encode(text);
}

/**
 * Translates `body` through `t`, pull-based: the upstream is read only as fast as the relay
 * reads. `prefix` events go first (e.g. a `workflow_initialized` the module makes itself). A
 * broken upstream read errors the result with an `upstream_error` {@link UpstreamError};
 * cancelling the result cancels the upstream.
 */
export function translateStream(
  body: ReadableStream<Uint8Array>,
  t: FrameTranslator,
  prefix: OutEvent[] = [],
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let out: OutEvent[] = [...prefix];
  const parser = createFrameParser((f) => {
    for (const ev of t.frame(f)) out.push(ev);
  });
  let ended = false;
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      for (;;) {
        if (out.length > 0) {
          const batch = out;
          out = [];
          c.enqueue(encodeOut(batch));
          return;
        }
        if (ended) {
          c.close();
          return;
        }
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await reader.read();
        } catch (error) {
          const instead = t.broke?.(error) ?? null;
          if (instead !== null) {
            ended = true;
            for (const ev of instead) out.push(ev);
            continue;
          }
          c.error(
            error instanceof UpstreamError ? error : new UpstreamError(
              `workflow stream broke: ${describe(error)}`,
              { code: "upstream_error", cause: error },
            ),
          );
          return;
        }
        if (r.done) {
          parser.end();
          ended = true;
          try {
            for (const ev of await t.end()) out.push(ev);
          } catch (error) {
            c.error(error);
            return;
          }
          continue;
        }
        parser.feed(r.value);
      }
    },
    cancel(reason) {
      return reader.cancel(reason).catch(() => {});
    },
  }, { highWaterMark: 0 });
}
