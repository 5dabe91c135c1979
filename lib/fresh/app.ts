/**
 * `App`: middleware, routes (by hand or from the `fresh.gen.ts` manifest), page rendering with
 * `_app`/layouts, not-found and error pages, and a `Deno.serve` handler.
 * @module
 */
import { type ComponentChildren, Fragment, type FunctionComponent, h, type VNode } from "preact";
import { type BuildInfo, readBuildInfo } from "./build_info.ts";
import { Context, type ContextHost, type FreshConfig, type ServerInfo } from "./context.ts";
import { type HandlerFn, type Manifest, type Middleware, type RouteHandler } from "./handlers.ts";
import { runChain } from "./middleware_chain.ts";
import {
  type AnyPageComponent,
  handlersOf,
  type PageTarget,
  planFsRoutes,
  type SpecialPage,
} from "./fs_routes.ts";
import { setBuildId } from "./asset.ts";
import { HttpError } from "./http_error.ts";
import { registerIslands } from "./islands.ts";
import { isPageResponse, type PageInit, type PageProps } from "./page.ts";
import { renderPageHtml } from "./render.ts";
import { type Match, RouteTable } from "./route_table.ts";
import { compilePattern, matchPrefix, type PathPattern } from "./router.ts";

/** Where the app reports failures (a `Logger` from lib/log.ts fits). */
export interface ErrorLogger {
  /** Logs an error with fields. */
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Options of `new App()`. */
export interface AppOptions {
  /** Project root: a path or a `file:` URL (default: the working directory). */
  root?: string | URL;
  /** Directory for `staticFiles()` and the build output (default: `<root>/static`). */
  staticDir?: string;
  /** Reported as `ctx.config.mode` (default `production`). */
  mode?: "production" | "development";
  /**
   * The island build. Default: read `<staticDir>/_fresh/build.json` on the first page render.
   * `null`: there is none (pages with islands then fail with a clear message).
   */
  build?: BuildInfo | null;
  /** Receives unexpected errors (default: `console.error`). */
  logger?: ErrorLogger;
}

/** Options of `app.listen()` (passed to `Deno.serve`). */
export type ListenOptions = Partial<Deno.ServeTcpOptions>;

interface MiddlewareEntry<State> {
  pattern: PathPattern | null;
  fn: Middleware<State>;
}

const FALLBACK_BUILD_ID = crypto.randomUUID().replaceAll("-", "").slice(0, 12);

function toPath(root: string | URL): string {
  const text = root instanceof URL || root.startsWith("file:")
    ? decodeURIComponent(new URL(root).pathname)
    : root;
  return text.length > 1 ? text.replace(/\/+$/, "") : text;
}

const Empty: FunctionComponent = () => null;

function DefaultDocument(props: { Component: FunctionComponent }) {
  return h(
    "html",
    { lang: "en" },
    h(
      "head",
      null,
      h("meta", { charset: "utf-8" }),
      h("meta", { name: "viewport", content: "width=device-width, initial-scale=1" }),
    ),
    h("body", null, h(props.Component, null)),
  );
}

/** A Fresh-2-style application. */
export class App<State = Record<string, unknown>> {
  /** The resolved configuration (also `ctx.config`). */
  readonly config: FreshConfig;

  #options: AppOptions;
  #logger: ErrorLogger;
  #middlewares: MiddlewareEntry<State>[] = [];
  #routes = new RouteTable<State>();
  #appWrapper: AnyPageComponent | null = null;
  #notFound: SpecialPage<State> | null = null;
  #onError: SpecialPage<State> | null = null;
  #build: Promise<BuildInfo | null> | null = null;
  #targets = new WeakMap<Context<unknown>, PageTarget>();
  #host: ContextHost;

  /** Creates an app; see `AppOptions`. */
  constructor(options: AppOptions = {}) {
    this.#options = options;
    const root = toPath(options.root ?? Deno.cwd());
    this.config = {
      root,
      staticDir: options.staticDir ? toPath(options.staticDir) : `${root}/static`,
      mode: options.mode ?? "production",
    };
    this.#logger = options.logger ?? {
      error: (msg, fields) => console.error(msg, fields ?? ""),
    };
    this.#host = {
      renderPage: (ctx, content, init) =>
        this.#renderDocument(ctx, this.#targets.get(ctx)?.layouts ?? [], content, undefined, init),
    };
  }

  /**
   * Adds middleware: `use(mw, …)` for every request, `use(path, mw, …)` for `path` and below.
   * Middleware runs in registration order, before routing picks a handler.
   */
  use(...args: [string, ...Middleware<State>[]] | Middleware<State>[]): this {
    let pattern: PathPattern | null = null;
    let fns = args as Middleware<State>[];
    if (typeof args[0] === "string") {
      pattern = compilePattern(args[0]);
      fns = args.slice(1) as Middleware<State>[];
    }
    for (const fn of fns) this.#middlewares.push({ pattern, fn });
    return this;
  }

  /** GET route; earlier arguments are middleware for this route only. */
  get(path: string, ...fns: [...Middleware<State>[], HandlerFn<unknown, State>]): this {
    return this.#method(["GET"], path, fns);
  }
  /** POST route. */
  post(path: string, ...fns: [...Middleware<State>[], HandlerFn<unknown, State>]): this {
    return this.#method(["POST"], path, fns);
  }
  /** PUT route. */
  put(path: string, ...fns: [...Middleware<State>[], HandlerFn<unknown, State>]): this {
    return this.#method(["PUT"], path, fns);
  }
  /** PATCH route. */
  patch(path: string, ...fns: [...Middleware<State>[], HandlerFn<unknown, State>]): this {
    return this.#method(["PATCH"], path, fns);
  }
  /** DELETE route. */
  delete(path: string, ...fns: [...Middleware<State>[], HandlerFn<unknown, State>]): this {
    return this.#method(["DELETE"], path, fns);
  }
  /** HEAD route (GET routes answer HEAD without one). */
  head(path: string, ...fns: [...Middleware<State>[], HandlerFn<unknown, State>]): this {
    return this.#method(["HEAD"], path, fns);
  }
  /** A route for every method. */
  all(path: string, ...fns: [...Middleware<State>[], HandlerFn<unknown, State>]): this {
    return this.#method(["*"], path, fns);
  }

  /** A route with a handler (function or per method) and/or a page component. */
  route(
    path: string,
    // deno-lint-ignore no-explicit-any
    route: { handler?: RouteHandler<any, State>; component?: AnyPageComponent },
  ): this {
    const handlers = handlersOf<State>({ handler: route.handler }, path);
    this.#routes.add(path, handlers, { component: route.component, layouts: [] }, []);
    return this;
  }

  /** Wraps every page (what `routes/_app.tsx` does). */
  appWrapper(component: AnyPageComponent): this {
    this.#appWrapper = component;
    return this;
  }

  /** Handles requests no route matches, and `HttpError(404)`. */
  notFound(handler: HandlerFn<unknown, State>): this {
    this.#notFound = { fn: handler, target: { layouts: [] } };
    return this;
  }

  /** Handles thrown errors; `ctx.error` holds the error. */
  onError(handler: HandlerFn<unknown, State>): this {
    this.#onError = { fn: handler, target: { layouts: [] } };
    return this;
  }

  /**
   * Registers the routes and islands of a `fresh.gen.ts` manifest (see fs_routes.ts for the file
   * conventions).
   */
  fsRoutes(manifest: Manifest): this {
    registerIslands(manifest.islands);
    const plan = planFsRoutes<State>(manifest.routes);
    if (plan.appWrapper) this.#appWrapper = plan.appWrapper;
    if (plan.notFound) this.#notFound = plan.notFound;
    if (plan.onError) this.#onError = plan.onError;
    for (const { path, fns } of plan.middlewares) this.use(path, ...fns);
    for (const r of plan.routes) this.#routes.add(r.path, r.handlers, r.target, r.middlewares);
    return this;
  }

  /** The request handler for `Deno.serve` / `deno serve` / Deploy. */
  handler(): (req: Request, info?: ServerInfo) => Promise<Response> {
    return async (req, info) => {
      const url = new URL(req.url);
      const ctx = new Context<State>(req, url, info, this.config, this.#host);
      const match = this.#routes.match(req.method, url.pathname);
      const middlewares: Middleware<State>[] = [];
      for (const m of this.#middlewares) {
        if (m.pattern === null || matchPrefix(m.pattern, url.pathname)) middlewares.push(m.fn);
      }
      if (match.kind !== "none") {
        ctx.params = match.params;
        ctx.route = match.route.pattern.source;
        this.#targets.set(ctx as Context<unknown>, match.route);
        if (match.kind === "found") middlewares.push(...match.route.middlewares);
      }
      try {
        return await runChain(ctx, middlewares, () => this.#final(ctx, match));
      } catch (err) {
        return await this.#errorResponse(ctx, err);
      }
    };
  }

  /** Starts `Deno.serve` with this app (default port 8000). */
  listen(options: ListenOptions = {}): Deno.HttpServer {
    return Deno.serve({ port: 8000, ...options } as Deno.ServeTcpOptions, this.handler());
  }

  #method(methods: string[], path: string, fns: unknown[]): this {
    const handler = fns[fns.length - 1] as HandlerFn<unknown, State>;
    const mws = fns.slice(0, -1) as Middleware<State>[];
    this.#routes.add(path, new Map(methods.map((m) => [m, handler])), { layouts: [] }, mws);
    return this;
  }

  async #final(ctx: Context<State>, match: Match<State>): Promise<Response> {
    try {
      if (match.kind === "none") return await this.#renderNotFound(ctx);
      if (match.kind === "method") {
        return new Response("Method Not Allowed", {
          status: 405,
          headers: { allow: match.allow.join(", "), "content-type": "text/plain; charset=utf-8" },
        });
      }
      const res = await this.#runHandler(ctx, match.route, match.fn, 200);
      if (ctx.req.method === "HEAD" && res.body) {
        // HEAD answered by a GET handler: same status and headers, no body.
        await res.body.cancel();
        return new Response(null, {
          status: res.status,
          statusText: res.statusText,
          headers: res.headers,
        });
      }
      return res;
    } catch (err) {
      // Errors become responses here, inside the middleware chain, so middleware still sees
      // (and can decorate) error pages.
      return await this.#errorResponse(ctx, err);
    }
  }

  async #runHandler(
    ctx: Context<State>,
    target: PageTarget,
    fn: HandlerFn<unknown, State>,
    defaultStatus: number,
  ): Promise<Response> {
    const result = await fn(ctx);
    if (result instanceof Response) return result;
    if (isPageResponse(result)) {
      if (!target.component) {
        throw new Error(
          `page() returned for ${ctx.route ?? ctx.url.pathname}, which has no page component`,
        );
      }
      const props = this.#pageProps(ctx, result.data);
      const content = h(target.component, props);
      return await this.#renderDocument(ctx, target.layouts, content, result.data, {
        status: result.status ?? defaultStatus,
        headers: result.headers,
      });
    }
    throw new TypeError(
      `Handler for ${ctx.route ?? ctx.url.pathname} returned neither a Response nor page()`,
    );
  }

  async #renderNotFound(ctx: Context<State>): Promise<Response> {
    if (!this.#notFound) {
      return new Response("Not Found", {
        status: 404,
        headers: { "content-type": "text/plain; charset=utf-8" },
      });
    }
    ctx.route = null;
    this.#targets.set(ctx as Context<unknown>, this.#notFound.target);
    return await this.#runHandler(ctx, this.#notFound.target, this.#notFound.fn, 404);
  }

  async #errorResponse(ctx: Context<State>, err: unknown): Promise<Response> {
    const status = err instanceof HttpError ? err.status : 500;
    if (!(err instanceof HttpError)) {
      this.#logger.error("request failed", {
        error: err,
        stack: err instanceof Error ? err.stack : undefined,
        method: ctx.req.method,
        path: ctx.url.pathname,
        route: ctx.route,
      });
    }
    ctx.error = err;
    const special = status === 404 && this.#notFound ? this.#notFound : this.#onError;
    if (special) {
      try {
        this.#targets.set(ctx as Context<unknown>, special.target);
        return await this.#runHandler(ctx, special.target, special.fn, status);
      } catch (inner) {
        this.#logger.error("error page failed", { error: inner, path: ctx.url.pathname });
      }
    }
    // Only HttpError messages are meant for clients; anything else stays in the log.
    const message = err instanceof HttpError ? err.message : "Internal Server Error";
    return new Response(message, {
      status,
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  }

  #pageProps(ctx: Context<State>, data: unknown): PageProps<unknown, State> {
    return {
      Component: Empty,
      data,
      url: ctx.url,
      req: ctx.req,
      params: ctx.params,
      state: ctx.state,
      info: ctx.info,
      route: ctx.route,
      error: ctx.error,
      config: ctx.config,
    };
  }

  #loadBuild(): Promise<BuildInfo | null> {
    this.#build ??= (async () => {
      const build = this.#options.build !== undefined
        ? this.#options.build
        : await readBuildInfo(this.config.staticDir);
      setBuildId(build?.buildId ?? FALLBACK_BUILD_ID);
      return build;
    })();
    return this.#build;
  }

  async #renderDocument(
    ctx: Context<unknown>,
    layouts: AnyPageComponent[],
    content: ComponentChildren,
    data: unknown,
    init: PageInit | undefined,
  ): Promise<Response> {
    const build = await this.#loadBuild();
    const props = this.#pageProps(ctx as Context<State>, data);
    let Inner: FunctionComponent = () => h(Fragment, null, content);
    for (let i = layouts.length - 1; i >= 0; i--) {
      const Layout = layouts[i];
      const Child = Inner;
      Inner = () => h(Layout, { ...props, Component: Child });
    }
    const root = this.#appWrapper
      ? h(this.#appWrapper, { ...props, Component: Inner })
      : h(DefaultDocument, { Component: Inner });
    const nonce = (ctx.state as { nonce?: unknown } | undefined)?.nonce;
    const html = renderPageHtml(root as VNode, {
      build,
      nonce: typeof nonce === "string" ? nonce : undefined,
    });
    const headers = new Headers(init?.headers);
    if (!headers.has("content-type")) headers.set("content-type", "text/html; charset=utf-8");
    return new Response(html, { status: init?.status ?? 200, headers });
  }
}
