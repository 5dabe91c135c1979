/**
 * The head of an HTTP/1.1 exchange for the socket client (`upstream_http1.ts`): the request's
 * header lines and body bytes, and the answer's status line and header section (1xx answers
 * skipped, a size limit, strict syntax).
 * @module
 */
import { Http1ProtocolError } from "./http1_chunked.ts";

/** Largest accepted response header section. */
export const MAX_HEADER_BYTES = 64 * 1024;

const CR = 13;
const LF = 10;
const enc = new TextEncoder();
const latin1 = new TextDecoder("latin1");

function indexOfHeaderEnd(buf: Uint8Array, from: number): number {
  for (let i = Math.max(0, from - 3); i + 3 < buf.length; i++) {
    if (buf[i] === CR && buf[i + 1] === LF && buf[i + 2] === CR && buf[i + 3] === LF) return i;
  }
  return -1;
}

/** `a` then `b` in a new array. */
export function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** A parsed status line and header section. */
export interface Head {
  /** The status code. */
  status: number;
  /** The reason phrase ("" when absent). */
  statusText: string;
  /** The header fields. */
  headers: Headers;
}

function parseHead(text: string): Head {
  const lines = text.split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (!m) throw new Http1ProtocolError(`bad status line ${JSON.stringify(lines[0].slice(0, 60))}`);
  const headers = new Headers();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(":");
    if (colon <= 0 || line[0] === " " || line[0] === "\t") {
      throw new Http1ProtocolError(`bad header line ${JSON.stringify(line.slice(0, 60))}`);
    }
    headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return { status: Number(m[1]), statusText: m[2] ?? "", headers };
}

/**
 * Reads the header section of the next final (non-1xx) answer; `rest` is what the last read
 * brought past it (a view of the read buffer).
 * @throws {Http1ProtocolError} a malformed or oversized head, or a connection closed first.
 */
export async function readHead(conn: Deno.Conn): Promise<{ head: Head; rest: Uint8Array }> {
  let buf: Uint8Array = new Uint8Array(0);
  let scanFrom = 0;
  while (true) {
    const end = indexOfHeaderEnd(buf, scanFrom);
    if (end > MAX_HEADER_BYTES || (end === -1 && buf.length > MAX_HEADER_BYTES)) {
      throw new Http1ProtocolError("response headers too large");
    }
    if (end !== -1) {
      const head = parseHead(latin1.decode(buf.subarray(0, end)));
      const rest = buf.subarray(end + 4);
      if (head.status >= 100 && head.status < 200) {
        // An interim answer (100, 103): the final one follows.
        buf = rest;
        scanFrom = 0;
        continue;
      }
      return { head, rest };
    }
    scanFrom = buf.length;
    const chunk = new Uint8Array(16 * 1024);
    const got = await conn.read(chunk);
    if (got === null) throw new Http1ProtocolError("connection closed before the response headers");
    buf = buf.length === 0 ? chunk.subarray(0, got) : concat(buf, chunk.subarray(0, got));
  }
}

/** A header name (an HTTP token). */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** What may not appear in a header value: line ends (header injection), NUL, non-bytes. */
const BAD_VALUE = /[\r\n\0]|[^\0-\xff]/;
/** Leading and trailing HTTP whitespace, which `Headers` strips from a value. */
const EDGE_SPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g;

/**
 * The request's header lines. Name/value pairs and records are written as they are, checked as
 * `Headers` would check them (a `Headers` object costs a validation per set and a sorted copy
 * per read, on every start); `host`, `connection` and `content-length` are this client's.
 * @throws {TypeError} an invalid name or value.
 */
export function headerLines(given: HeadersInit | undefined): string {
  let lines = "";
  const add = (name: string, value: string) => {
    const k = name.toLowerCase();
    const v = value.replace(EDGE_SPACE, "");
    if (!HEADER_NAME.test(k) || BAD_VALUE.test(v)) {
      throw new TypeError(`http1Fetch: invalid header ${JSON.stringify(name)}`);
    }
    if (k !== "host" && k !== "connection" && k !== "content-length") lines += `${k}: ${v}\r\n`;
  };
  if (given === undefined) return lines;
  if (given instanceof Headers) given.forEach((v, k) => add(k, v));
  else if (Array.isArray(given)) { for (const [k, v] of given) add(k, v); }
  else for (const k in given) add(k, (given as Record<string, string>)[k]);
  return lines;
}

/**
 * A request body as bytes: a string or bytes only (this client sends a content length).
 * @throws {TypeError} any other body.
 */
export function requestBody(body: BodyInit | null | undefined): Uint8Array {
  if (body === undefined || body === null) return new Uint8Array(0);
  if (typeof body === "string") return enc.encode(body);
  if (body instanceof Uint8Array) return body;
  throw new TypeError("http1Fetch sends only string or Uint8Array bodies");
}
