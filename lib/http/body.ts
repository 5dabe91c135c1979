/**
 * Reading a JSON request body safely: content type, size limit (enforced while reading, so a huge
 * or endless body never sits in memory), UTF-8 and JSON syntax, then a zod schema.
 * @module
 */
import type { z } from "zod";
import { ApiError } from "./errors.ts";

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Reads at most `maxBytes` of `req`'s body; throws 413 past it. */
export async function readBodyBytes(req: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) {
    throw new ApiError(413, "payload_too_large", `Body exceeds ${maxBytes} bytes`);
  }
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
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
    throw new ApiError(400, "bad_request", "Could not read the request body");
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

/** True when the request declares a JSON media type (`application/json` or `+json`). */
export function isJsonContentType(req: Request): boolean {
  const ct = req.headers.get("content-type");
  if (!ct) return false;
  const media = ct.split(";")[0].trim().toLowerCase();
  return media === "application/json" || /^application\/[a-z0-9.+-]+\+json$/.test(media);
}

/**
 * Reads and parses a JSON body: 415 for another content type, 413 past `maxBytes`, 400 for
 * invalid UTF-8 or JSON. Returns the raw parsed value.
 */
export async function readJson(req: Request, maxBytes: number): Promise<unknown> {
  if (!isJsonContentType(req)) {
    throw new ApiError(415, "unsupported_media_type", "Content-Type must be application/json");
  }
  const bytes = await readBodyBytes(req, maxBytes);
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new ApiError(400, "bad_request", "Body is not valid UTF-8");
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
