/**
 * Reading the workflow service's answers: bounded text bodies, the error of a non-2xx answer, and
 * the stream an SSE open resolves with. Bounded because a failing service's body is not ours to
 * buffer whole.
 * @module
 */
import { describe, PASS_THROUGH_STATUSES, UpstreamError } from "./upstream_errors.ts";

/** Largest error / JSON body read from the upstream. */
const MAX_BODY_BYTES = 64 * 1024;

/** True when the answer's content type is `text/event-stream`. */
export function isEventStream(res: Response): boolean {
  const ct = res.headers.get("content-type");
  return ct !== null && /^\s*text\/event-stream\s*(;|$)/i.test(ct);
}

/** Reads at most `max` bytes of a body as text, cancelling the rest. */
export async function readBounded(res: Response, max = MAX_BODY_BYTES): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const r = await reader.read();
      if (r.done) return concatText(parts);
      parts.push(r.value);
      size += r.value.byteLength;
    }
    await reader.cancel().catch(() => {});
    return concatText(parts).slice(0, max);
  } finally {
    reader.releaseLock();
  }
}

function concatText(parts: Uint8Array[]): string {
  const decoder = new TextDecoder();
  let text = "";
  for (const p of parts) text += decoder.decode(p, { stream: true });
  return text + decoder.decode();
}

function parseMaybeJson(text: string): unknown {
  const t = text.trim();
  if (t === "") return undefined;
  try {
    return JSON.parse(t);
  } catch {
    return t.length > 500 ? t.slice(0, 500) + "…" : t;
  }
}

/** Builds the error for a non-2xx answer, reading (bounded) and attaching its body. */
export async function statusError(res: Response, what: string): Promise<UpstreamError> {
  let body: unknown;
  try {
    body = parseMaybeJson(await readBounded(res));
  } catch {
    body = undefined;
  }
  const detail = body !== null && typeof body === "object" && "message" in body &&
      typeof body.message === "string"
    ? `: ${body.message}`
    : "";
  return new UpstreamError(`${what} answered ${res.status}${detail}`, {
    code: PASS_THROUGH_STATUSES.has(res.status) ? "upstream_client_error" : "upstream_status",
    upstreamStatus: res.status,
    body,
  });
}

/**
 * The stream `execute()` resolves with: the first chunk, then the upstream body. Pull-based
 * (high-water mark 0) so a slow consumer slows the upstream read instead of buffering here.
 */
export class UpstreamBody implements UnderlyingDefaultSource<Uint8Array> {
  /**
   * `first` is the chunk already read (the proof of a live stream), `reader` the rest; `done`
   * ends the exchange (once the body ended, failed or was cancelled); an abort of `external`
   * (the caller's signal) is reported as that abort.
   */
  constructor(
    private first: Uint8Array | undefined,
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    private readonly done: (reason?: unknown) => void,
    private readonly external: AbortSignal | undefined,
  ) {}

  /** Hands on the first chunk, then one upstream read per pull. */
  pull(c: ReadableStreamDefaultController<Uint8Array>): Promise<void> | void {
    if (this.first !== undefined) {
      c.enqueue(this.first);
      this.first = undefined;
      return;
    }
    return this.reader.read().then((r) => {
      if (r.done) {
        this.done();
        // A cancel caused by `signal` also ends the read as done: report it as the abort it is.
        if (this.external?.aborted) c.error(this.external.reason);
        else c.close();
      } else {
        c.enqueue(r.value);
      }
    }, (error) => {
      this.done();
      c.error(
        this.external?.aborted ? this.external.reason : new UpstreamError(
          `workflow stream broke: ${describe(error)}`,
          { code: "upstream_error", cause: error },
        ),
      );
    });
  }

  /** Cancels the upstream read and ends the exchange. */
  cancel(reason?: unknown): Promise<void> {
    this.first = undefined;
    const cancelled = this.reader.cancel(reason).catch(() => {});
    this.done(reason);
    return cancelled;
  }
}
