/**
 * Handler and middleware types, and the shape of a route module.
 * @module
 */
import type { ComponentType } from "preact";
import type { Context } from "./context.ts";
import type { PageProps, PageResponse } from "./page.ts";

/** HTTP methods a handler object may define. */
export const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

/** One of `METHODS`. */
export type Method = typeof METHODS[number];

/** A middleware: call `ctx.next()` to continue, or return a response to stop. */
export type Middleware<State = Record<string, unknown>> = (
  ctx: Context<State>,
) => Response | Promise<Response>;

/** A route handler: a response, or `page(data)` to render the route's component. */
export type HandlerFn<Data = unknown, State = Record<string, unknown>> = (
  ctx: Context<State>,
) =>
  | Response
  | PageResponse<Data>
  | Promise<Response | PageResponse<Data>>;

/** Handlers per method (`{GET, POST, …}`); missing methods answer 405. */
export type HandlerByMethod<Data = unknown, State = Record<string, unknown>> = {
  [M in Method]?: HandlerFn<Data, State>;
};

/** A route module's `handler` export: one function for every method, or one per method. */
export type RouteHandler<Data = unknown, State = Record<string, unknown>> =
  | HandlerFn<Data, State>
  | HandlerByMethod<Data, State>;

/** Fresh 1's name for handler objects. */
export type Handlers<Data = unknown, State = Record<string, unknown>> = HandlerByMethod<
  Data,
  State
>;

/** A page, layout or `_app` component. */
export type PageComponent<Data = unknown, State = Record<string, unknown>> = ComponentType<
  PageProps<Data, State>
>;

/** Optional per-route configuration (`export const config = {…}`). */
export interface RouteConfig {
  /** Replaces the path derived from the file name (pattern syntax of `app.get`). */
  routeOverride?: string;
}

/** What a module under `routes/` may export. */
export interface RouteModule {
  /** Request handler(s); without one, GET renders the default component. */
  handler?: unknown;
  /** The page component (or, in `_app`/`_layout`, the wrapper). */
  default?: unknown;
  /** Route options. */
  config?: RouteConfig;
}

/** The manifest `fresh.gen.ts` exports: every route and island module, statically imported. */
export interface Manifest {
  /** Route modules keyed by `./routes/…` paths. */
  routes: Record<string, RouteModule>;
  /** Island modules keyed by `./islands/…` paths. */
  islands: Record<string, Record<string, unknown>>;
  /** `import.meta.url` of the manifest; locates the project root. */
  baseUrl: string;
}

/** The `data` type a handler passes to `page()` (for `define.page<typeof handler>`). */
export type HandlerData<H> = H extends (...args: never[]) => infer R ? PageData<R>
  : H extends Record<string, unknown> ? {
      [K in keyof H]: H[K] extends (...args: never[]) => infer R ? PageData<R> : never;
    }[keyof H]
  : never;

/** The `data` of the `page()` a handler's result `R` resolves to (never for a `Response`). */
export type PageData<R> = Awaited<R> extends infer A ? A extends PageResponse<infer D> ? D : never
  : never;
