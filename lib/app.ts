/**
 * Builds the application: services first, then the `_middleware` files, then static files, then
 * the routes and islands of `fresh.gen.ts`. `main.ts` serves it; tests build their own with
 * other services.
 * @module
 */
import { App, type BuildInfo, type ErrorLogger, type Manifest, staticFiles } from "fresh";
import manifest from "../fresh.gen.ts";
import type { State } from "./define.ts";
import { admitStarts } from "./http/start_admission.ts";
import type { ServeHandler } from "./http/inflight.ts";
import type { Services } from "./services.ts";

/** Options of `createApp`. */
export interface CreateAppOptions {
  /** Put on `ctx.state.services` for every request. */
  services?: Services;
  /** Routes and islands (default: the project's `fresh.gen.ts`). */
  manifest?: Manifest;
  /** Directory of static files and build output (default: `<project>/static`). */
  staticDir?: string;
  /** The island build (default: read from `static/_fresh/build.json`). */
  build?: BuildInfo | null;
  /** Receives unexpected errors. */
  logger?: ErrorLogger;
}

/** The project root (the folder above `lib/`). */
export const PROJECT_ROOT: URL = new URL("../", import.meta.url);

/**
 * Creates the app. Middleware order: services → route middleware (`_middleware` files: request
 * id, security headers, access log) → static files → routes, so static answers carry the same
 * headers as pages.
 */
export function createApp(opts: CreateAppOptions = {}): App<State> {
  const app = new App<State>({
    root: PROJECT_ROOT,
    staticDir: opts.staticDir,
    build: opts.build,
    logger: opts.logger,
  });
  const services = opts.services;
  // First, so every later middleware, route and error page can rely on the services.
  app.use(function services_(ctx) {
    if (services !== undefined) ctx.state.services = services;
    return ctx.next();
  });
  app.fsRoutes(opts.manifest ?? manifest);
  app.use(staticFiles());
  return app;
}

/**
 * The handler to serve: `app`'s, behind the start admission (`lib/http/start_admission.ts`):
 * at most `MAX_STARTING_RUNS` run starts are in the app at once; the others wait, before any
 * middleware runs, holding only their request and body.
 */
export function servedHandler(app: App<State>, services: Services): ServeHandler {
  return admitStarts(app.handler(), { gate: services.gateway.startGate, config: services.config });
}
