/**
 * The benchmark's measuring client: reads one SSE stream (the fake upstream's `/execute`
 * directly, or the gateway's `POST /agui`) over a plain HTTP/1.1 socket reader, so the client
 * costs far less per event than what it measures. It checks every frame and counts, by the
 * events' `n`, what was lost, duplicated or malformed, and records each step event's latency
 * (receive time − the send time the fake stamped in its data).
 * @module
 */
import { http1Fetch } from "../lib/gateway/upstream_http1.ts";
import { wallNow } from "./fake_upstream.ts";

/** What one stream delivered. */
export interface StreamResult {
  /** Distinct step events received. */
  received: number;
  /** Step events expected but never received. */
  lost: number;
  /** Step events received more than once (or an `id:` that did not increase). */
  duplicated: number;
  /** Frames that were not well-formed events of the expected shape. */
  malformed: number;
  /** True when the terminal `workflow_complete` arrived. */
  terminal: boolean;
  /** Heartbeat comments received. */
  heartbeats: number;
  /** Latency (ms) of each received step event, in arrival order. */
  latencies: Float64Array;
  /** Send time of the first step event (wall ms, as the fake stamped it). */
  firstSend: number;
  /** Receive time of the stream's last bytes (wall ms). */
  lastRecv: number;
  /** When the request was made (wall ms). */
  requested: number;
  /** When the first body byte arrived (wall ms; NaN if none did). */
  firstByte: number;
  /** An error that ended the stream early, if any. */
  error?: string;
}

/** Counts and checks frames; fed text as it arrives. Exported for its unit test. */
export class FrameChecker {
  readonly #expected: number;
  readonly #seen: Uint8Array;
  #buf = "";
  #lat: Float64Array;
  /** Distinct step events received so far. */
  received = 0;
  /** Step events seen again, plus events whose `id:` did not increase. */
  duplicated = 0;
  /** Frames not of the expected shape, and an unfinished frame left at the end. */
  malformed = 0;
  /** `: heartbeat` comments received. */
  heartbeats = 0;
  /** True once `workflow_complete` arrived. */
  terminal = false;
  /** Send time of the first step event received (wall ms, as the fake stamped it); 0 before. */
  firstSend = 0;
  /** Receive time of the last text fed (wall ms); 0 before. */
  lastRecv = 0;
  #lastId = -1;

  /**
   * A checker with nothing seen yet.
   * @param expected how many step events (n = 0 … expected − 1) the stream should carry
   */
  constructor(expected: number) {
    this.#expected = expected;
    this.#seen = new Uint8Array(expected);
    this.#lat = new Float64Array(expected);
  }

  /** Step events expected but not received. */
  get lost(): number {
    return this.#expected - this.received;
  }

  /** Latencies of the received step events. */
  get latencies(): Float64Array {
    return this.#lat.subarray(0, this.received);
  }

  /** Parses `text` (any slice of the stream); `now` is its receive time. */
  feed(text: string, now: number): void {
    let buf = this.#buf + text;
    let at = 0;
    for (;;) {
      const end = buf.indexOf("\n\n", at);
      if (end < 0) break;
      this.#block(buf.slice(at, end), now);
      at = end + 2;
    }
    buf = buf.slice(at);
    this.#buf = buf;
    this.lastRecv = now;
  }

  /** The stream ended: an unfinished frame left over is malformed. */
  end(): void {
    if (this.#buf.trim() !== "") this.malformed++;
    this.#buf = "";
  }

  #block(block: string, now: number): void {
    let type = "message";
    let data: string | undefined;
    let id: string | undefined;
    let comment = true;
    let pos = 0;
    while (pos <= block.length) {
      let nl = block.indexOf("\n", pos);
      if (nl < 0) nl = block.length;
      const line = block.slice(pos, nl);
      pos = nl + 1;
      if (line.startsWith(":")) {
        if (line === ": heartbeat") this.heartbeats++;
        continue;
      }
      comment = false;
      if (line.startsWith("data: ")) {
        data = data === undefined ? line.slice(6) : data + "\n" + line.slice(6);
      } else if (line.startsWith("event: ")) type = line.slice(7);
      else if (line.startsWith("id: ")) id = line.slice(4);
      else if (line.startsWith("retry: ")) continue;
      else if (line !== "") {
        this.malformed++;
        return;
      }
    }
    if (comment || data === undefined) return;
    if (id !== undefined) {
      const seq = Number(id);
      if (!(seq > this.#lastId)) {
        this.duplicated++;
        return;
      }
      this.#lastId = seq;
    }
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(data);
    } catch {
      this.malformed++;
      return;
    }
    if (type === "step_started") {
      const n = obj.n;
      const t = obj.t;
      if (typeof n !== "number" || typeof t !== "number" || !(n >= 0 && n < this.#expected)) {
        this.malformed++;
        return;
      }
      if (this.#seen[n]) {
        this.duplicated++;
        return;
      }
      this.#seen[n] = 1;
      if (this.received === 0) this.firstSend = t;
      this.#lat[this.received++] = now - t;
    } else if (type === "workflow_complete") {
      this.terminal = true;
    } else if (type !== "workflow_initialized") {
      this.malformed++;
    }
  }
}

/** How to open one stream. */
export interface StreamRequest {
  /** Full URL to POST to. */
  url: string;
  /** JSON body. */
  body: unknown;
  /** Step events the stream should carry. */
  expected: number;
  /** Ends the read early (hold scenario). */
  signal?: AbortSignal;
  /** Called once the response headers arrived. */
  onOpen?: () => void;
}

/** Opens a stream and reads it to its end (or until `signal`). */
export async function readStream(req: StreamRequest): Promise<StreamResult> {
  const checker = new FrameChecker(req.expected);
  const requested = wallNow();
  let firstByte = NaN;
  let error: string | undefined;
  try {
    const res = await http1Fetch(req.url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify(req.body),
    });
    if (res.status !== 200 || !res.body) {
      throw new Error(`HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`);
    }
    req.onOpen?.();
    const reader = res.body.getReader();
    const onAbort = () => reader.cancel().catch(() => {});
    req.signal?.addEventListener("abort", onAbort, { once: true });
    const dec = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const now = wallNow();
        if (Number.isNaN(firstByte)) firstByte = now;
        checker.feed(dec.decode(value, { stream: true }), now);
      }
      checker.end();
    } finally {
      req.signal?.removeEventListener("abort", onAbort);
    }
  } catch (err) {
    if (!req.signal?.aborted) error = err instanceof Error ? err.message : String(err);
  }
  return {
    received: checker.received,
    lost: checker.lost,
    duplicated: checker.duplicated,
    malformed: checker.malformed,
    terminal: checker.terminal,
    heartbeats: checker.heartbeats,
    latencies: checker.latencies,
    firstSend: checker.firstSend,
    lastRecv: checker.lastRecv,
    requested,
    firstByte,
    ...(error ? { error } : {}),
  };
}
