/**
 * Cache-busting asset URLs. `asset("/styles.css")` → `/styles.css?__frsh_c=<build id>`, so a new
 * build changes the URL of every asset a page links to. Browser-safe: the server sets the build id
 * when it loads the build, the island boot script sets it in the browser.
 * @module
 */

/** The query parameter that carries the build id. */
export const ASSET_CACHE_PARAM = "__frsh_c";

let buildId: string | undefined;

/** Sets the build id that `asset()` appends (called by the server and by the island boot code). */
export function setBuildId(id: string): void {
  buildId = id;
}

/** The current build id, if one was set. */
export function getBuildId(): string | undefined {
  return buildId;
}

/**
 * Adds the build id to a root-relative URL. Absolute URLs, protocol-relative URLs and URLs that
 * already carry the parameter are returned unchanged: only our own files are versioned by us.
 */
export function asset(path: string): string {
  if (buildId === undefined || !path.startsWith("/") || path.startsWith("//")) return path;
  const hashAt = path.indexOf("#");
  const base = hashAt === -1 ? path : path.slice(0, hashAt);
  const hash = hashAt === -1 ? "" : path.slice(hashAt);
  const queryAt = base.indexOf("?");
  if (queryAt !== -1) {
    const params = new URLSearchParams(base.slice(queryAt + 1));
    if (params.has(ASSET_CACHE_PARAM)) return path;
  }
  const sep = queryAt === -1 ? "?" : "&";
  return `${base}${sep}${ASSET_CACHE_PARAM}=${encodeURIComponent(buildId)}${hash}`;
}

/** `asset()` applied to every URL of a `srcset` attribute value. */
export function assetSrcSet(srcset: string): string {
  return srcset.split(",").map((part) => {
    const trimmed = part.trim();
    const space = trimmed.search(/\s/);
    if (space === -1) return asset(trimmed);
    return asset(trimmed.slice(0, space)) + trimmed.slice(space);
  }).join(", ");
}
