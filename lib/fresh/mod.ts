/**
 * `fresh`: a small server core with Fresh 2's names (App, Context, routing from the committed
 * `fresh.gen.ts` manifest, islands, static files), since Fresh 2 itself is on JSR and this project
 * uses npm only. Route, island and component files import only from `fresh` and `fresh/runtime`,
 * so they move to Fresh 2 mostly unchanged; the entry point, the route list, `App` options,
 * middleware order and the build do not. docs/fresh.md lists the differences and the steps.
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
