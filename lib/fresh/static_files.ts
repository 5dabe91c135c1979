/**
 * `staticFiles()` middleware: serves files under the static directory for GET and HEAD.
 * Build output under `/_fresh/<build id>/` has content-hashed names and is cached for a year
 * (`immutable`); nothing else under `/_fresh/` is served (`build.json` lists source paths and
 * hashes). Every other file must be revalidated (`no-cache`) with its ETag, a hash of its
 * content, so a changed file is never served stale. Requests that would leave the directory
 * (`..`, encoded or not, NUL, backslashes, symlinks pointing outside) fall through to `next()`.
 * @module
 */
import type { Context } from "./context.ts";
import type { Middleware } from "./handlers.ts";

/** Options of `staticFiles()`. */
export interface StaticFilesOptions {
  /** Directory to serve (default: the app's `config.staticDir`). */
  root?: string;
}

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  map: "application/json; charset=utf-8",
  json: "application/json; charset=utf-8",
  webmanifest: "application/manifest+json; charset=utf-8",
  txt: "text/plain; charset=utf-8",
  xml: "application/xml; charset=utf-8",
  svg: "image/svg+xml; charset=utf-8",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  avif: "image/avif",
  ico: "image/x-icon",
  woff: "font/woff",
  woff2: "font/woff2",
  ttf: "font/ttf",
  otf: "font/otf",
  wasm: "application/wasm",
  pdf: "application/pdf",
};

/** The content type for a file name (octet-stream when unknown). */
export function contentType(name: string): string {
  const ext = /\.([A-Za-z0-9]+)$/.exec(name)?.[1]?.toLowerCase();
  return (ext && TYPES[ext]) || "application/octet-stream";
}

/** Build output: the content-hashed bundles under `/_fresh/<build id>/`. */
function isBuildOutput(segments: string[]): boolean {
  return segments.length >= 3 && segments[0] === "_fresh";
}

/**
 * Under `_fresh/` only build output is public: `build.json` (source paths and hashes, read by
 * the server at start) and anything else beside the build folders stay private.
 */
function isPrivate(segments: string[]): boolean {
  return segments[0] === "_fresh" && !isBuildOutput(segments);
}

interface CachedTag {
  mtime: number;
  size: number;
  etag: string;
}

async function hashFile(path: string): Promise<string> {
  const bytes = await Deno.readFile(path);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  let hex = "";
  for (let i = 0; i < 12; i++) hex += digest[i].toString(16).padStart(2, "0");
  return `"${hex}"`;
}

/** Decoded, checked path segments, or null when the path must not be served. */
function safeSegments(pathname: string): string[] | null {
  const parts = pathname.split("/").slice(1);
  const out: string[] = [];
  for (const part of parts) {
    let seg: string;
    try {
      seg = decodeURIComponent(part);
    } catch {
      return null;
    }
    // Dot files, "..", separators smuggled through encoding and NUL never map to a file.
    if (seg === "" || seg.startsWith(".") || /[\\/\0]/.test(seg)) return null;
    out.push(seg);
  }
  return out.length > 0 ? out : null;
}

function ifNoneMatch(header: string | null, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === "*") return true;
  return header.split(",").some((t) => t.trim().replace(/^W\//, "") === etag);
}

/** Serves files from the static directory; everything else goes to `next()`. */
export function staticFiles<State>(options: StaticFilesOptions = {}): Middleware<State> {
  const tags = new Map<string, CachedTag>();
  let realRoot: Promise<string> | undefined;

  return async (ctx: Context<State>) => {
    const method = ctx.req.method;
    if (method !== "GET" && method !== "HEAD") return ctx.next();
    const segments = safeSegments(ctx.url.pathname);
    if (!segments || isPrivate(segments)) return ctx.next();
    const rootDir = options.root ?? ctx.config.staticDir;
    realRoot ??= Deno.realPath(rootDir).catch(() => rootDir);
    const root = await realRoot;
    let path: string;
    let info: Deno.FileInfo;
    try {
      path = await Deno.realPath(`${root}/${segments.join("/")}`);
      if (!path.startsWith(root + "/")) return ctx.next();
      info = await Deno.stat(path);
    } catch {
      return ctx.next();
    }
    if (!info.isFile) return ctx.next();

    const mtime = info.mtime?.getTime() ?? 0;
    let tag = tags.get(path);
    if (!tag || tag.mtime !== mtime || tag.size !== info.size) {
      tag = { mtime, size: info.size, etag: await hashFile(path) };
      tags.set(path, tag);
    }
    const headers = new Headers({
      "content-type": contentType(path),
      "etag": tag.etag,
      "cache-control": isBuildOutput(segments)
        ? "public, max-age=31536000, immutable"
        : "public, no-cache",
      "x-content-type-options": "nosniff",
    });
    if (ifNoneMatch(ctx.req.headers.get("if-none-match"), tag.etag)) {
      return new Response(null, { status: 304, headers });
    }
    headers.set("content-length", String(info.size));
    if (method === "HEAD") return new Response(null, { status: 200, headers });
    const file = await Deno.open(path, { read: true });
    return new Response(file.readable, { status: 200, headers });
  };
}
