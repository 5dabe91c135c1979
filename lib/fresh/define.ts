/**
 * `createDefine<State>()`: identity helpers that only add types, as in Fresh 2
 * (`define.handlers`, `define.page`, `define.middleware`).
 * @module
 */
import type { VNode } from "preact";
import type { HandlerData, Middleware, RouteHandler } from "./handlers.ts";
import type { PageProps } from "./page.ts";

/** The helpers `createDefine` returns. */
export interface Define<State> {
  /** Types a route's `handler` export; `page(data)` fixes its data type. */
  handlers<Data = unknown, H extends RouteHandler<Data, State> = RouteHandler<Data, State>>(
    handlers: H,
  ): H;
  /**
   * Types a page (or `_app`/layout) component; `define.page<typeof handler>(…)` gives `props.data`
   * the type the handler passes to `page()`.
   */
  page<H = undefined, Data = [H] extends [undefined] ? undefined : HandlerData<H>>(
    render: (props: PageProps<Data, State>) => VNode | string | null,
  ): (props: PageProps<Data, State>) => VNode | string | null;
  /** Types a middleware (or a list of them). */
  middleware<M extends Middleware<State> | Middleware<State>[]>(middleware: M): M;
}

/** Returns typing helpers bound to the app's `State`. They return their argument unchanged. */
export function createDefine<State>(): Define<State> {
  return {
    handlers: (handlers) => handlers,
    page: (render) => render,
    middleware: (middleware) => middleware,
  };
}
