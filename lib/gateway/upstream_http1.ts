/**
 * A minimal HTTP/1.1 client on `Deno.connect` / `Deno.connectTls`, with the `fetch` signature, for
 * the upstream's long SSE responses. Why: Deno's `fetch` yields one body read per upstream HTTP
 * chunk at ~50–80 µs of CPU each (measured here: 50,000 one-frame chunks took 2.7–3.8 s through
 * fetch and ~0.1 s through a socket). This client reads the socket in large reads and hands each
 * read's payload on as ONE chunk, so the relay can forward a whole read as one write.
 *
 * Scope, on purpose: one request per connection (`connection: close`), a string or byte request
 * body with a content length, responses framed by `transfer-encoding: chunked`,
 * `content-length` or the connection's end; 1xx answers skipped; no redirects, proxies,
 * compression or HTTP/2. Anything else should use `fetch` (the `transport` option of
 * `createUpstream`).
 * @module
 */
import { raceAbort } from "../async.ts";
import { unwatchAbort, watchAbort } from "../abort_watch.ts";
import { ChunkedDecoder, Http1ProtocolError } from "./http1_chunked.ts";

import { concat, headerLines, readHead, requestBody } from "./http1_head.ts";

export { ChunkedDecoder, Http1ProtocolError } from "./http1_chunked.ts";
export { MAX_HEADER_BYTES } from "./http1_head.ts";

/** Size of each socket read. */
const READ_SIZE = 64 * 1024;
/**
 * First read size of a body. A body read waits with its buffer allocated, and most upstream
 * streams are idle most of the time (a run waiting on a slow step): starting small keeps an idle
 * stream cheap; reads that fill the buffer double it up to READ_SIZE for fast streams.
 */
const MIN_READ_SIZE = 2 * 1024;

const enc = new TextEncoder();

type Framing = { kind: "chunked"; decoder: ChunkedDecoder } | { kind: "length"; left: number } | {
  kind: "close";
};

/**
 * The body of an {@link http1Fetch} answer read without its ReadableStream: the socket's payload
 * one read at a time, with a reader's shape (`read`, `cancel`), for a caller that wraps the body
 * in a stream of its own anyway (the upstream client) and need not hold two stream layers per
 * open body. See {@link bodySource}.
 */
export interface BodySource {
  /**
   * The next payload (a fresh array the caller may keep), or done at the body's end or after a
   * cancel. One read at a time.
   * @throws {Http1ProtocolError} on a malformed body, or the socket's error.
   */
  read(): Promise<ReadableStreamReadResult<Uint8Array>>;
  /**
   * Like {@link read}, but the payload may be a view of the connection's read buffer, valid
   * only until the next read: for a caller that is done with each payload before it reads on
   * (the relay's pump decodes it at once), one allocation and copy less per read.
   */
  readView(): Promise<ReadableStreamReadResult<Uint8Array>>;
  /** Ends the exchange: closes the socket; a pending read resolves as done. */
  cancel(reason?: unknown): Promise<void>;
  /**
   * Stops honoring the request's `signal` (and lets it go): from now on only {@link cancel}
   * ends the exchange. For a caller that watches its own signals once the body arrived.
   */
  detachSignal(): void;
}

const DONE: ReadableStreamReadResult<Uint8Array> = Object.freeze({ done: true, value: undefined });

/** The body sources of answers whose stream nobody read yet (see {@link bodySource}). */
const sources = new WeakMap<ReadableStream<Uint8Array>, SocketBody>();

/**
 * The body of an {@link http1Fetch} answer as a {@link BodySource}, or undefined for any other
 * body. Take it INSTEAD of reading `body` (never both): the stream is left unread.
 */
export function bodySource(body: ReadableStream<Uint8Array> | null): BodySource | undefined {
  if (body === null || body.locked) return undefined;
  const source = sources.get(body);
  sources.delete(body);
  return source;
}

/**
 * The response body: reads the socket on demand (as a stream of high-water mark 0, or through
 * {@link BodySource.read}), closes it at the end. The socket is read into one buffer per
 * connection, reused by every read; each read's payload is copied out at its exact size (it
 * would otherwise alias the next read's bytes), so an idle body holds only its read buffer.
 */
class SocketBody implements UnderlyingDefaultSource<Uint8Array>, BodySource {
  /** The socket is closed (end, failure or cancel). */
  #closed = false;
  /** Nothing more to read: the body ended, failed or was cancelled. */
  #done = false;
  #readSize = MIN_READ_SIZE;
  /** The connection's read buffer, reused while its size stays. */
  #buf: Uint8Array | undefined;
  #conn: Deno.Conn;
  #leftover: Uint8Array | undefined;
  #framing: Framing;
  #wiring: AbortClose | undefined;

  constructor(
    conn: Deno.Conn,
    leftover: Uint8Array | undefined,
    framing: Framing,
    wiring: AbortClose,
  ) {
    this.#conn = conn;
    this.#leftover = leftover;
    this.#framing = framing;
    this.#wiring = wiring;
  }

  read(): Promise<ReadableStreamReadResult<Uint8Array>> {
    return this.#read(true);
  }

  readView(): Promise<ReadableStreamReadResult<Uint8Array>> {
    return this.#read(false);
  }

  async #read(copy: boolean): Promise<ReadableStreamReadResult<Uint8Array>> {
    // Loop until this read produced payload or ended: a read may carry only framing bytes.
    while (!this.#done) {
      let input: Uint8Array | null;
      let buf: Uint8Array | undefined;
      if (this.#leftover) {
        // Its own copy already (see http1Fetch): no need to copy its payload again.
        input = this.#leftover;
        this.#leftover = undefined;
      } else {
        buf = this.#buf;
        if (buf === undefined || buf.length !== this.#readSize) {
          buf = this.#buf = new Uint8Array(this.#readSize);
        }
        let got: number | null;
        try {
          got = await this.#conn.read(buf);
        } catch (error) {
          if (this.#done) return DONE; // cancelled while the read waited
          this.#end();
          throw error;
        }
        if (this.#done) return DONE;
        if (got === buf.length && this.#readSize < READ_SIZE) this.#readSize *= 2;
        else if (got !== null && got < buf.length / 8 && this.#readSize > MIN_READ_SIZE) {
          this.#readSize /= 2;
        }
        input = got === null ? null : buf.subarray(0, got);
      }
      if (input === null) {
        this.#end();
        if (this.#framing.kind === "close") return DONE;
        throw new Http1ProtocolError("connection closed before the body ended");
      }
      let payload: Uint8Array;
      let ended = false;
      const framing = this.#framing;
      if (framing.kind === "chunked") {
        try {
          payload = framing.decoder.decode(input);
        } catch (error) {
          this.#end();
          throw error;
        }
        ended = framing.decoder.done;
      } else if (framing.kind === "length") {
        payload = input.length > framing.left ? input.subarray(0, framing.left) : input;
        framing.left -= payload.length;
        ended = framing.left === 0;
      } else {
        payload = input;
      }
      if (ended) this.#end();
      if (payload.length > 0) {
        // A view of the reused buffer is copied out (unless borrowed); a decoder's own
        // concatenation is not.
        if (copy && buf !== undefined && payload.buffer === buf.buffer) payload = payload.slice();
        return { done: false, value: payload };
      }
    }
    return DONE;
  }

  pull(c: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    return this.read().then((r) => {
      if (!r.done) c.enqueue(r.value);
      else if (!this.#cancelled) c.close();
    }, (error) => c.error(error));
  }

  /** True once {@link cancel} ran (the stream is closed by its own cancel then). */
  #cancelled = false;

  cancel(): Promise<void> {
    this.#cancelled = true;
    this.#end();
    return Promise.resolve();
  }

  detachSignal(): void {
    this.#wiring?.detach();
    this.#wiring = undefined;
  }

  /** Nothing more to read: closes the socket and lets the buffers go. */
  #end(): void {
    this.#done = true;
    this.#buf = undefined;
    this.#leftover = undefined;
    if (this.#closed) return;
    this.#closed = true;
    this.detachSignal();
    try {
      this.#conn.close();
    } catch {
      // already closed by an abort
    }
  }
}

/**
 * Closes the connection when the request's signal aborts: one object, the signal's listener
 * itself (no closures), held while the answer is awaited and by the body until it detaches.
 */
class AbortClose {
  readonly #conn: Deno.Conn;
  readonly #signal: AbortSignal | undefined;
  constructor(conn: Deno.Conn, signal: AbortSignal | undefined) {
    this.#conn = conn;
    this.#signal = signal;
  }
  /** The signal aborted. */
  handleEvent(): void {
    this.close();
  }
  /** Closes the connection (a pending read fails). */
  close(): void {
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }
  /** Stops listening to the signal. */
  detach(): void {
    if (this.#signal) unwatchAbort(this.#signal, this);
  }
}

/**
 * `fetch` over a fresh HTTP/1.1 connection (see the module doc for the scope). Honors
 * `init.signal` until the body ends, from the connect on: aborting rejects at once with the
 * signal's reason and closes the socket, failing a pending read.
 * @throws {TypeError} when the connection fails or the URL is not http(s).
 * @throws {Http1ProtocolError} when the answer is not well-formed HTTP/1.1.
 */
export async function http1Fetch(
  input: Request | URL | string,
  init: RequestInit = {},
): Promise<Response> {
  if (input instanceof Request) throw new TypeError("http1Fetch takes a URL, not a Request");
  const url = new URL(input);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`http1Fetch: unsupported protocol ${url.protocol}`);
  }
  const signal = init.signal ?? undefined;
  signal?.throwIfAborted();
  const tls = url.protocol === "https:";
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = url.port ? Number(url.port) : tls ? 443 : 80;
  const method = (init.method ?? "GET").toUpperCase();
  const body = requestBody(init.body);
  let head = `${method} ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n` +
    "connection: close\r\n";
  if (body.length > 0 || method === "POST" || method === "PUT") {
    head += `content-length: ${body.length}\r\n`;
  }
  head += headerLines(init.headers) + "\r\n";

  let conn: Deno.Conn;
  try {
    const connecting: Promise<Deno.Conn> = tls
      ? Deno.connectTls({ hostname, port })
      : Deno.connect({ hostname, port });
    // A connect does not watch the signal: the race ends the wait (a late connection is closed).
    conn = await (signal ? raceAbort(connecting, signal, (c) => c.close()) : connecting);
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw new TypeError(`connect to ${url.host} failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const wiring = new AbortClose(conn, signal);
  if (signal?.aborted) {
    wiring.close();
    throw signal.reason;
  }
  if (signal) watchAbort(signal, wiring);
  try {
    const bytes = body.length === 0 ? enc.encode(head) : concat(enc.encode(head), body);
    for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
    const { head: h, rest } = await readHead(conn);
    const noBody = method === "HEAD" || h.status === 204 || h.status === 304 || h.status === 205;
    const te = h.headers.get("transfer-encoding");
    const cl = h.headers.get("content-length");
    let framing: Framing;
    if (te !== null && /(^|,)\s*chunked\s*$/i.test(te)) {
      framing = { kind: "chunked", decoder: new ChunkedDecoder() };
    } else if (te !== null) {
      throw new Http1ProtocolError(`unsupported transfer-encoding ${te}`);
    } else if (cl !== null) {
      if (!/^\d{1,15}$/.test(cl.trim())) throw new Http1ProtocolError(`bad content-length ${cl}`);
      framing = { kind: "length", left: Number(cl) };
    } else {
      framing = { kind: "close" };
    }
    if (noBody || (framing.kind === "length" && framing.left === 0)) {
      wiring.close();
      wiring.detach();
      return new Response(noBody ? null : "", h);
    }
    // A copy: `rest` is a view of the 16 KiB header buffer, which whatever holds on to the
    // first body chunk (a relay's suspended read loop does) would otherwise keep alive for as
    // long as the stream lasts (measured: 16 KiB more per idle stream, docs/performance.md).
    const leftover = rest.length > 0 ? rest.slice() : undefined;
    const source = new SocketBody(conn, leftover, framing, wiring);
    const stream = new ReadableStream(source, { highWaterMark: 0 });
    sources.set(stream, source);
    return new Response(stream, h);
  } catch (error) {
    wiring.close();
    wiring.detach();
    if (signal?.aborted) throw signal.reason;
    if (error instanceof Http1ProtocolError) throw error;
    throw new TypeError(`HTTP request to ${url.host} failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
