/**
 * Measures the JavaScript a page loads: every `<script src>` and inline script of the HTML, and
 * every module they import, followed transitively (`import … from "x"`, `import "x"`,
 * `export … from "x"`). Dynamic `import("x")` targets are reported apart as `lazy`: the
 * browser fetches them only when that code runs (e.g. `@preact/signals` for pages whose island
 * props hold a signal). Sizes are gzip sizes of each file on its own, as a browser would receive
 * them from a compressing server.
 *
 * `deno run -A scripts/js_budget.ts http://127.0.0.1:8000 /` prints a table; the console test
 * asserts the console's 15 KB gzip budget (README) with `measurePageJs`.
 * @module
 */

/** One script and its sizes. */
export interface ScriptSize {
  /** Absolute URL, or `inline #n` for inline scripts. */
  url: string;
  /** Bytes as served. */
  bytes: number;
  /** Bytes after gzip. */
  gzip: number;
}

/** What a page loads. */
export interface PageJs {
  /** Scripts loaded when the page loads (HTML scripts and their static imports). */
  scripts: ScriptSize[];
  /** Sum of `scripts[].gzip`. */
  totalGzip: number;
  /** Modules only reachable through dynamic `import()`, loaded on demand. */
  lazy: ScriptSize[];
}

const SCRIPT_TAG = /<script\b([^>]*)>([\s\S]*?)<\/script>/gi;
const SRC_ATTR = /\bsrc\s*=\s*["']([^"']+)["']/i;
// Minified ESM: `import{a}from"./x.js"`, `import"./x.js"`, `export*from"./x.js"`.
const STATIC_IMPORT = /\b(?:import|export)\s*(?:[\w*${}\s,]+?\s*from\s*)?["']([^"']+)["']/g;
const DYNAMIC_IMPORT = /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g;

/** Gzip size of some bytes (CompressionStream, default level). */
export async function gzipSize(data: Uint8Array | string): Promise<number> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream("gzip"));
  return (await new Response(stream).arrayBuffer()).byteLength;
}

function importsOf(code: string, re: RegExp): string[] {
  return [...code.matchAll(re)].map((m) => m[1]);
}

/** Loads `baseUrl + path` and measures every script it loads (see the module doc). */
export async function measurePageJs(baseUrl: string, path = "/"): Promise<PageJs> {
  const pageUrl = new URL(path, baseUrl);
  // Error pages (a 404) are pages too: measure whatever HTML came back.
  const res = await fetch(pageUrl);
  if (!(res.headers.get("content-type") ?? "").startsWith("text/html")) {
    await res.body?.cancel();
    throw new Error(`GET ${pageUrl} answered ${res.status} without HTML`);
  }
  const html = await res.text();

  const scripts: ScriptSize[] = [];
  const seen = new Set<string>();
  const dynamic = new Set<string>();
  const queue: string[] = [];
  const enqueue = (spec: string, from: URL) => {
    const url = new URL(spec, from).href;
    if (!seen.has(url)) {
      seen.add(url);
      queue.push(url);
    }
  };
  const scan = (code: string, from: URL) => {
    for (const spec of importsOf(code, STATIC_IMPORT)) enqueue(spec, from);
    for (const spec of importsOf(code, DYNAMIC_IMPORT)) dynamic.add(new URL(spec, from).href);
  };

  let inline = 0;
  for (const [, attrs, body] of html.matchAll(SCRIPT_TAG)) {
    const src = SRC_ATTR.exec(attrs)?.[1];
    if (src) {
      enqueue(src, pageUrl);
    } else if (body.trim() && !/type\s*=\s*["']application\/(ld\+)?json/i.test(attrs)) {
      scripts.push({ url: `inline #${++inline}`, bytes: body.length, gzip: await gzipSize(body) });
      scan(body, pageUrl);
    }
  }

  const fetchScript = async (url: string): Promise<{ size: ScriptSize; code: string }> => {
    const r = await fetch(url);
    if (!r.ok) throw new Error(`GET ${url} answered ${r.status}`);
    const bytes = new Uint8Array(await r.arrayBuffer());
    return {
      size: { url, bytes: bytes.byteLength, gzip: await gzipSize(bytes) },
      code: new TextDecoder().decode(bytes),
    };
  };

  while (queue.length) {
    const url = queue.shift()!;
    const { size, code } = await fetchScript(url);
    scripts.push(size);
    scan(code, new URL(url));
  }

  // Lazy modules (and what they import statically) that the page load did not already bring.
  const lazy: ScriptSize[] = [];
  const lazyQueue = [...dynamic].filter((u) => !seen.has(u));
  for (const u of lazyQueue) seen.add(u);
  while (lazyQueue.length) {
    const url = lazyQueue.shift()!;
    const { size, code } = await fetchScript(url);
    lazy.push(size);
    for (const spec of [...importsOf(code, STATIC_IMPORT), ...importsOf(code, DYNAMIC_IMPORT)]) {
      const next = new URL(spec, url).href;
      if (!seen.has(next)) {
        seen.add(next);
        lazyQueue.push(next);
      }
    }
  }

  return { scripts, totalGzip: scripts.reduce((n, s) => n + s.gzip, 0), lazy };
}

if (import.meta.main) {
  const [base = "http://127.0.0.1:8000", path = "/"] = Deno.args;
  const result = await measurePageJs(base, path);
  const kb = (n: number) => `${(n / 1024).toFixed(2)} KB`;
  for (const s of result.scripts) console.log(`${kb(s.gzip).padStart(9)} gzip  ${s.url}`);
  console.log(`${kb(result.totalGzip).padStart(9)} gzip  total loaded by ${path}`);
  for (const s of result.lazy) console.log(`${kb(s.gzip).padStart(9)} gzip  (lazy) ${s.url}`);
}
