/**
 * HTTP/1.1 `transfer-encoding: chunked` decoding for the upstream socket client
 * (`upstream_http1.ts`), and the error of a malformed answer.
 * @module
 */

const CR = 13;
const LF = 10;
const latin1 = new TextDecoder("latin1");

/** A malformed HTTP/1.1 answer. */
export class Http1ProtocolError extends Error {
  /** The answer was malformed; `message` says how. */
  constructor(message: string) {
    super(message);
    this.name = "Http1ProtocolError";
  }
}

/**
 * Decodes a `transfer-encoding: chunked` body incrementally. Each {@link decode} call returns the
 * payload bytes that input completed, coalesced into one array, whatever the chunk boundaries.
 */
export class ChunkedDecoder {
  #state: "size" | "data" | "data_cr" | "data_lf" | "trailer" = "size";
  #line = "";
  #remaining = 0;
  /** True once the last (zero-size) chunk and its trailer section were read. */
  done = false;

  /**
   * Decodes one input.
   * @returns the payload it completed (possibly empty); bytes after the end are ignored.
   * @throws {Http1ProtocolError} on a malformed size line or chunk end.
   */
  decode(input: Uint8Array): Uint8Array {
    // The usual input completes one chunk: its view is returned as is, no array of parts.
    let one: Uint8Array | undefined;
    let parts: Uint8Array[] | undefined;
    let size = 0;
    let i = 0;
    const n = input.length;
    while (i < n && !this.done) {
      switch (this.#state) {
        case "data": {
          const take = Math.min(this.#remaining, n - i);
          const part = input.subarray(i, i + take);
          if (one === undefined) one = part;
          else (parts ??= [one]).push(part);
          size += take;
          i += take;
          this.#remaining -= take;
          if (this.#remaining === 0) this.#state = "data_cr";
          break;
        }
        case "data_cr":
          if (input[i++] !== CR) throw new Http1ProtocolError("chunk not followed by CRLF");
          this.#state = "data_lf";
          break;
        case "data_lf":
          if (input[i++] !== LF) throw new Http1ProtocolError("chunk not followed by CRLF");
          this.#state = "size";
          break;
        case "size":
        case "trailer": {
          if (this.#state === "size" && this.#line === "") {
            // The usual size line, `hex CRLF` whole in this input, read from the bytes: no
            // string, no regex (one per upstream chunk, i.e. per event on most services).
            let j = i;
            let size = 0;
            for (let d; j < n && j - i < 12 && (d = hexDigit(input[j])) >= 0; j++) {
              size = size * 16 + d;
            }
            if (j > i && j + 1 < n && input[j] === CR && input[j + 1] === LF) {
              i = j + 2;
              this.#remaining = size;
              this.#state = size === 0 ? "trailer" : "data";
              break;
            }
          }
          const lf = input.indexOf(LF, i);
          const end = lf === -1 ? n : lf;
          this.#line += latin1.decode(input.subarray(i, end));
          if (this.#line.length > 4096) throw new Http1ProtocolError("chunk line too long");
          i = end;
          if (lf === -1) break;
          i++;
          const line = this.#line.endsWith("\r") ? this.#line.slice(0, -1) : this.#line;
          this.#line = "";
          if (this.#state === "trailer") {
            if (line === "") this.done = true;
            break;
          }
          const hex = line.split(";", 1)[0].trim();
          if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) {
            throw new Http1ProtocolError(
              `bad chunk size line ${JSON.stringify(line.slice(0, 40))}`,
            );
          }
          this.#remaining = parseInt(hex, 16);
          this.#state = this.#remaining === 0 ? "trailer" : "data";
          break;
        }
      }
    }
    if (one === undefined) return new Uint8Array(0);
    if (parts === undefined) return one;
    const out = new Uint8Array(size);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

/** The value of an ASCII hex digit, or -1. */
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}
