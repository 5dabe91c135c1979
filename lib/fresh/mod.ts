/**
 * `fresh`: a small Fresh-2-compatible server core (App, Context, routing from the `fresh.gen.ts`
 * manifest, islands, static files). Route and island files import only from `fresh` and
 * `fresh/runtime`, with Fresh 2's names, so moving to upstream Fresh later is a change of imports.
 * @module
 */

export { App, type AppOptions, type ErrorLogger, type ListenOptions } from "./app.ts";
export { Context, type FreshConfig, type ServerInfo, type StreamSource } from "./context.ts";
export { createDefine, type Define } from "./define.ts";
export type {
  HandlerByMethod,
  HandlerData,
  HandlerFn,
  Handlers,
  Manifest,
  Method,
  Middleware,
  PageComponent,
  RouteConfig,
  RouteHandler,
  RouteModule,
} from "./handlers.ts";
export { page, type PageInit, type PageProps, type PageResponse } from "./page.ts";
export { staticFiles, type StaticFilesOptions } from "./static_files.ts";
export type { BuildInfo } from "./build_info.ts";
export { asset, assetSrcSet, HttpError, IS_BROWSER } from "./runtime.ts";
