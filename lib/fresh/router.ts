/**
 * Path patterns and matching. Syntax (a small subset of URLPattern's): literal segments, `:name`
 * (one segment), `:name?` (an optional last segment), `:name*` (zero or more segments, last) and
 * `*` (zero or more segments, unnamed). Matching ignores one trailing slash. When several patterns
 * match, the most specific wins: per segment, static beats `:param`, which beats optional, which
 * beats rest; so registration order never decides between `/runs/new` and `/runs/:id`.
 * @module
 */

/** One parsed segment of a pattern. */
export type Segment =
  | { kind: "static"; value: string }
  | { kind: "param"; name: string }
  | { kind: "optional"; name: string }
  | { kind: "rest"; name: string | null };

/** A compiled path pattern. */
export interface PathPattern {
  /** The pattern as written (normalised), e.g. `/runs/:id`; exposed as `ctx.route`. */
  readonly source: string;
  /** Parsed segments. */
  readonly segments: readonly Segment[];
  /** Specificity ranks per segment, compared by `compareSpecificity`. */
  readonly ranks: readonly number[];
}

const RANK = { static: 4, param: 3, end: 2, optional: 1, rest: 0 } as const;

/** Splits a path into segments; `/` is no segments and a trailing slash is ignored. */
export function splitPath(path: string): string[] {
  const trimmed = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
  if (trimmed === "/" || trimmed === "") return [];
  return trimmed.replace(/^\//, "").split("/");
}

/**
 * Parses a pattern. Throws on patterns that cannot be matched unambiguously (a rest or optional
 * segment that is not last, or a repeated parameter name).
 */
export function compilePattern(pattern: string): PathPattern {
  if (!pattern.startsWith("/")) {
    throw new TypeError(`Route pattern must start with "/": ${pattern}`);
  }
  const segments: Segment[] = [];
  const names = new Set<string>();
  const parts = splitPath(pattern);
  parts.forEach((part, i) => {
    let seg: Segment;
    const m = /^:([A-Za-z_$][\w$]*)([?*]?)$/.exec(part);
    if (part === "*") seg = { kind: "rest", name: null };
    else if (m) {
      seg = m[2] === "*"
        ? { kind: "rest", name: m[1] }
        : m[2] === "?"
        ? { kind: "optional", name: m[1] }
        : { kind: "param", name: m[1] };
    } else seg = { kind: "static", value: part };
    if ((seg.kind === "rest" || seg.kind === "optional") && i !== parts.length - 1) {
      throw new TypeError(`Only the last segment may be optional or rest: ${pattern}`);
    }
    if ("name" in seg && seg.name !== null) {
      if (names.has(seg.name)) throw new TypeError(`Repeated parameter "${seg.name}": ${pattern}`);
      names.add(seg.name);
    }
    segments.push(seg);
  });
  const source = "/" + parts.join("/");
  return { source, segments, ranks: segments.map((s) => RANK[s.kind]) };
}

/**
 * Matches `pathname` (still percent-encoded, as in `URL.pathname`) against `pattern`. Returns the
 * decoded parameters, or null when it does not match (also when a parameter is badly encoded).
 */
export function matchPattern(
  pattern: PathPattern,
  pathname: string,
): Record<string, string> | null {
  return matchSegments(pattern, splitPath(pathname), false);
}

/**
 * Like `matchPattern` but also accepts paths below the pattern (`/api` matches `/api/x`): the
 * scope test for `app.use(path, mw)` and folder `_middleware` files.
 */
export function matchPrefix(
  pattern: PathPattern,
  pathname: string,
): Record<string, string> | null {
  return matchSegments(pattern, splitPath(pathname), true);
}

function decode(part: string): string | null {
  try {
    return decodeURIComponent(part);
  } catch {
    return null;
  }
}

function matchSegments(
  pattern: PathPattern,
  parts: string[],
  prefix: boolean,
): Record<string, string> | null {
  const params: Record<string, string> = {};
  const segs = pattern.segments;
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i];
    if (seg.kind === "rest") {
      const rest = parts.slice(i).map(decode);
      if (rest.some((p) => p === null)) return null;
      if (seg.name !== null) params[seg.name] = rest.join("/");
      return params;
    }
    if (i >= parts.length) {
      return seg.kind === "optional" ? params : null;
    }
    if (seg.kind === "static") {
      // Percent-encoded requests (`/caf%C3%A9`) must still reach a literal segment (`/café`).
      if (parts[i] !== seg.value && (!parts[i].includes("%") || decode(parts[i]) !== seg.value)) {
        return null;
      }
      continue;
    }
    const value = decode(parts[i]);
    if (value === null || value === "") return null;
    params[seg.name] = value;
  }
  if (parts.length > segs.length && !prefix) return null;
  return params;
}

/**
 * Orders patterns from most to least specific (negative when `a` is more specific than `b`),
 * segment by segment; a pattern that ends where the other has an optional or rest segment counts
 * as more specific.
 */
export function compareSpecificity(a: PathPattern, b: PathPattern): number {
  const n = Math.max(a.ranks.length, b.ranks.length);
  for (let i = 0; i < n; i++) {
    const ra = a.ranks[i] ?? RANK.end;
    const rb = b.ranks[i] ?? RANK.end;
    if (ra !== rb) return rb - ra;
  }
  return 0;
}
