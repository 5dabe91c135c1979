/**
 * `page(data, init)`: what a handler returns to have the route's page component rendered with
 * `data`, plus the props every page, layout and `_app` component receives.
 * @module
 */
import type { FunctionComponent } from "preact";
import type { FreshConfig, PageInit, ServerInfo } from "./context.ts";

export type { PageInit };

/** Brands `page()` results; `Symbol.for`, so two copies of this module still agree. */
export const PAGE: unique symbol = Symbol.for("fresh.page");

/** The value `page()` returns; the router renders the route's component with it. */
export interface PageResponse<Data> extends PageInit {
  /** Brand, so a handler's plain object is never mistaken for a page. */
  readonly [PAGE]: true;
  /** Passed to the page component as `props.data`. */
  readonly data: Data;
}

/** Returns a marker telling the router to render the route's page component with `data`. */
export function page<Data = undefined>(data?: Data, init?: PageInit): PageResponse<Data> {
  return { [PAGE]: true, data: data as Data, status: init?.status, headers: init?.headers };
}

/** True when `value` came from `page()`. */
export function isPageResponse(value: unknown): value is PageResponse<unknown> {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[PAGE] ===
      true;
}

/** Props of page components, layouts and the `_app` wrapper. */
export interface PageProps<Data = unknown, State = Record<string, unknown>> {
  /** In `_app` and layouts: the wrapped content. In a page: renders nothing. */
  Component: FunctionComponent;
  /** What the handler passed to `page()` (undefined when the page has no handler). */
  data: Data;
  /** The request URL. */
  url: URL;
  /** The request. */
  req: Request;
  /** Decoded route parameters. */
  params: Record<string, string>;
  /** State set by middleware. */
  state: State;
  /** Connection info, when the server provided it. */
  info: ServerInfo | undefined;
  /** The matched route pattern, e.g. `/runs/:id`; null for the 404 page. */
  route: string | null;
  /** The error being rendered (in `_error` pages), otherwise undefined. */
  error: unknown;
  /** The app's configuration. */
  config: FreshConfig;
}
