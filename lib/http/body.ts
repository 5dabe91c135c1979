/**
 * Reading a JSON request body safely: content type, size limit (from the declared length, or
 * enforced while reading, so a huge or endless body never sits in memory), a read deadline (a
 * body trickled a byte at a time does not hold a handler for ever), UTF-8, nesting depth and JSON
 * syntax, then a zod schema.
 * @module
 */
import type { z } from "zod";
import { ApiError } from "./errors.ts";
import { realScheduler, sharedTimer, TimerEntry } from "../sse/shared_timer.ts";

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Limits of one body read; a bare number is `MAX_BODY_BYTES` alone (no deadline, no depth). */
export type BodyLimits = number | {
  /** Largest body (413 past it). */
  MAX_BODY_BYTES: number;
  /** The whole body must arrive within this many ms of the first read (408 past it). */
  BODY_TIMEOUT_MS?: number;
  /** Deepest nesting of arrays and objects in a JSON body (400 past it). */
  MAX_JSON_DEPTH?: number;
};

function limitsOf(limits: BodyLimits): { maxBytes: number; timeoutMs?: number; depth?: number } {
  return typeof limits === "number" ? { maxBytes: limits } : {
    maxBytes: limits.MAX_BODY_BYTES,
    timeoutMs: limits.BODY_TIMEOUT_MS,
    depth: limits.MAX_JSON_DEPTH,
  };
}

/** 408 for a body that did not arrive in time; `connection: close`: the rest is not worth it. */
function bodyTimeout(timeoutMs: number): ApiError {
  return new ApiError(
    408,
    "body_timeout",
    `The body did not arrive within ${timeoutMs} ms`,
    undefined,
    {
      connection: "close",
    },
  );
}

/**
 * The read deadline of one body: an entry of the process's shared timer (no runtime timer per
 * request), which calls `onExpire` when it comes due.
 */
class BodyDeadline {
  /** True once the deadline passed (`onExpire` was called then). */
  expired = false;
  readonly #onExpire: () => void;
  readonly #entry: TimerEntry<BodyDeadline>;
  constructor(ms: number, onExpire: () => void) {
    this.#onExpire = onExpire;
    this.#entry = new TimerEntry<BodyDeadline>(BodyDeadline.#fire, this);
    sharedTimer(realScheduler).schedule(this.#entry, ms);
  }
  static #fire(self: BodyDeadline): void {
    self.expired = true;
    self.#onExpire();
  }
  /** Stops the deadline (the body was read, or failed otherwise). */
  clear(): void {
    sharedTimer(realScheduler).cancel(this.#entry);
  }
}

/** Bodies read before the app handles their request (see {@link readAhead}). */
const readAheads = new WeakMap<Request, Promise<Uint8Array>>();
const yes = () => true;
const no = () => false;

/**
 * Reads `req`'s body now, within `limits`, and keeps the bytes (or the failure: 413, 408, 400)
 * for the request's later {@link readBodyBytes}, which then reads nothing. For the start
 * admission (`start_admission.ts`): a start waits for its place only once its body is here, so a
 * body still arriving never holds one. Resolves once the read ended: true when it read the body.
 */
export function readAhead(req: Request, limits: BodyLimits): Promise<boolean> {
  const bytes = readBodyBytes(req, limits);
  readAheads.set(req, bytes);
  return bytes.then(yes, no);
}

/**
 * Reads at most `MAX_BODY_BYTES` of `req`'s body; throws 413 past it, and 408 `body_timeout` when
 * the whole body has not arrived within `BODY_TIMEOUT_MS`.
 */
export async function readBodyBytes(req: Request, limits: BodyLimits): Promise<Uint8Array> {
  const ahead = readAheads.get(req);
  if (ahead !== undefined) {
    readAheads.delete(req);
    return await ahead;
  }
  const { maxBytes, timeoutMs } = limitsOf(limits);
  const header = req.headers.get("content-length");
  const declared = header === null ? NaN : Number(header);
  if (declared > maxBytes) {
    throw new ApiError(413, "payload_too_large", `Body exceeds ${maxBytes} bytes`);
  }
  // A declared length bounds the body already (the server reads no byte past it), so it is read
  // whole without ever making its stream: a request whose body stream was made keeps that stream
  // (controller, queues, reader) for as long as the request lives, ~1 KB per open stream.
  if (Number.isSafeInteger(declared) && declared >= 0) return readDeclared(req, timeoutMs);
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  // One deadline per body, not one per read: a single timer that cancels the reader. A cancel
  // ends the pending read as if the body were complete (the streams spec), so no promise or
  // race per read is needed; `expired` tells that end from a real one.
  const deadline = timeoutMs === undefined
    ? undefined
    : new BodyDeadline(timeoutMs, () => reader.cancel().catch(() => {}));
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (deadline?.expired) throw bodyTimeout(timeoutMs!);
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        throw new ApiError(413, "payload_too_large", `Body exceeds ${maxBytes} bytes`);
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof ApiError) throw err;
    if (deadline?.expired) throw bodyTimeout(timeoutMs!);
    throw new ApiError(400, "bad_request", "Could not read the request body");
  } finally {
    deadline?.clear();
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

/**
 * Reads a body of declared length whole (`bytes()`), within `timeoutMs`. That read cannot be
 * cancelled: past the deadline the 408 is answered at once, and the read goes on in the
 * background until the declared bytes arrived or the connection closed, holding no more than
 * the bytes the client sent.
 */
async function readDeclared(req: Request, timeoutMs: number | undefined): Promise<Uint8Array> {
  const read = req.bytes();
  let deadline: BodyDeadline | undefined;
  let expired: Promise<never> | undefined;
  if (timeoutMs !== undefined) {
    expired = new Promise<never>((_, reject) => {
      deadline = new BodyDeadline(timeoutMs, () => reject(bodyTimeout(timeoutMs)));
    });
  }
  try {
    return await (expired ? Promise.race([read, expired]) : read);
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new ApiError(400, "bad_request", "Could not read the request body");
  } finally {
    deadline?.clear();
  }
}

/** True when the request declares a JSON media type (`application/json` or `+json`). */
export function isJsonContentType(req: Request): boolean {
  const ct = req.headers.get("content-type");
  if (!ct) return false;
  const media = ct.split(";")[0].trim().toLowerCase();
  return media === "application/json" || /^application\/[a-z0-9.+-]+\+json$/.test(media);
}

/**
 * The deepest nesting of arrays and objects in JSON `text` (brackets inside strings do not
 * count), or -1 as soon as it passes `max` (no need to look further).
 */
export function jsonDepth(text: string, max: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return -1;
      if (depth > deepest) deepest = depth;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

/**
 * Reads and parses a JSON body: 415 for another content type, 413 past `MAX_BODY_BYTES`, 408
 * past `BODY_TIMEOUT_MS`, 400 for invalid UTF-8, nesting deeper than `MAX_JSON_DEPTH`
 * (`too_deep`: services downstream, a Python one for instance, stop parsing near 1,000 levels)
 * or invalid JSON. Returns the raw parsed value.
 */
export async function readJson(req: Request, limits: BodyLimits): Promise<unknown> {
  if (!isJsonContentType(req)) {
    throw new ApiError(415, "unsupported_media_type", "Content-Type must be application/json");
  }
  const bytes = await readBodyBytes(req, limits);
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new ApiError(400, "bad_request", "Body is not valid UTF-8");
  }
  const { depth } = limitsOf(limits);
  if (depth !== undefined && jsonDepth(text, depth) < 0) {
    throw new ApiError(
      400,
      "too_deep",
      `Body nests arrays and objects deeper than ${depth} levels`,
      {
        max_depth: depth,
      },
    );
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ApiError(400, "bad_json", "Body is not valid JSON", {
      reason: err instanceof Error ? err.message : String(err),
    });
  }
}

/** Validates `value` with `schema`; 400 with the issues (path + message) when it fails. */
export function validate<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what = "body",
): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 20).map((i) => ({
      path: i.path.map(String).join(".") || "(root)",
      message: i.message,
    }));
    throw new ApiError(400, "invalid_request", `Invalid ${what}`, { issues });
  }
  return parsed.data;
}
