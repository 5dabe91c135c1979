/**
 * The route table of an `App`: routes by path pattern, each with handlers per method, a page
 * target and route middleware; lookup picks the most specific pattern that matches (ties: the
 * first added), and tells "no such path" (404) from "not this method" (405 with `Allow`).
 * @module
 */
import type { HandlerFn, Method, Middleware } from "./handlers.ts";
import { METHODS } from "./handlers.ts";
import type { PageTarget } from "./fs_routes.ts";
import { page } from "./page.ts";
import { compareSpecificity, compilePattern, matchPattern, type PathPattern } from "./router.ts";

/** A registered route. */
export interface RouteEntry<State> extends PageTarget {
  /** The compiled path pattern. */
  pattern: PathPattern;
  /** Per method, or `*` for a handler function that takes every method. */
  handlers: Map<string, HandlerFn<unknown, State>>;
  /** Middleware for this route only. */
  middlewares: Middleware<State>[];
  /** Registration order (breaks specificity ties). */
  order: number;
}

/** What a lookup found. */
export type Match<State> =
  | {
    kind: "found";
    route: RouteEntry<State>;
    params: Record<string, string>;
    fn: HandlerFn<unknown, State>;
  }
  | { kind: "method"; route: RouteEntry<State>; params: Record<string, string>; allow: string[] }
  | { kind: "none" };

/** Routes of one app. */
export class RouteTable<State> {
  #routes: RouteEntry<State>[] = [];
  #sorted: RouteEntry<State>[] | null = null;

  /** Adds a route; handlers for more methods of a plain route (no page, no middleware) merge. */
  add(
    path: string,
    handlers: Map<string, HandlerFn<unknown, State>>,
    target: PageTarget,
    middlewares: Middleware<State>[],
  ): void {
    const pattern = compilePattern(path);
    const existing = this.#routes.find((r) => r.pattern.source === pattern.source);
    if (existing && !target.component && middlewares.length === 0) {
      for (const [method, fn] of handlers) {
        if (existing.handlers.has(method)) {
          throw new TypeError(`Duplicate ${method} handler for ${pattern.source}`);
        }
        existing.handlers.set(method, fn);
      }
      return;
    }
    if (existing) throw new TypeError(`Duplicate route ${pattern.source}`);
    this.#routes.push({ ...target, pattern, handlers, middlewares, order: this.#routes.length });
    this.#sorted = null;
  }

  #pick(route: RouteEntry<State>, method: string): HandlerFn<unknown, State> | undefined {
    const h = route.handlers;
    const direct = h.get(method) ?? (method === "HEAD" ? h.get("GET") : undefined) ?? h.get("*");
    if (direct) return direct;
    if ((method === "GET" || method === "HEAD") && route.component) return () => page();
    return undefined;
  }

  #allowed(route: RouteEntry<State>): string[] {
    if (route.handlers.has("*")) return [...METHODS];
    const set = new Set<string>(route.handlers.keys());
    if (set.has("GET") || route.component) set.add("GET").add("HEAD");
    return METHODS.filter((m: Method) => set.has(m));
  }

  /** The route for `method` and `pathname`, a 405 with the methods allowed, or none. */
  match(method: string, pathname: string): Match<State> {
    this.#sorted ??= [...this.#routes].sort((a, b) =>
      compareSpecificity(a.pattern, b.pattern) || a.order - b.order
    );
    let first: { route: RouteEntry<State>; params: Record<string, string> } | null = null;
    const allow = new Set<string>();
    for (const route of this.#sorted) {
      const params = matchPattern(route.pattern, pathname);
      if (!params) continue;
      const fn = this.#pick(route, method);
      if (fn) return { kind: "found", route, params, fn };
      first ??= { route, params };
      for (const m of this.#allowed(route)) allow.add(m);
    }
    if (!first) return { kind: "none" };
    return { kind: "method", ...first, allow: METHODS.filter((m: Method) => allow.has(m)) };
  }
}
