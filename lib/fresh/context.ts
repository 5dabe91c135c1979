/**
 * The per-request `Context`: request data, middleware state, `next()`, and response helpers.
 * @module
 */
import type { ComponentChildren } from "preact";

/** Status and headers for a rendered page (`ctx.render`, `page()`). */
export interface PageInit {
  /** HTTP status (default 200). */
  status?: number;
  /** Extra response headers. */
  headers?: HeadersInit;
}

/** Connection information from `Deno.serve`. */
export type ServerInfo = Deno.ServeHandlerInfo;

/** The resolved configuration of an `App` (exposed as `ctx.config`). */
export interface FreshConfig {
  /** Project root directory (absolute path). */
  root: string;
  /** Directory served by `staticFiles()` (absolute path). */
  staticDir: string;
  /** `production` unless configured otherwise. */
  mode: "production" | "development";
}

/** What the app provides to a context; not for route code. */
export interface ContextHost {
  /** Renders `content` as a full page, wrapped in the matched route's layouts and `_app`. */
  renderPage(
    ctx: Context<unknown>,
    content: ComponentChildren,
    init: PageInit | undefined,
  ): Promise<Response>;
}

/** Something `ctx.stream()` can send: a byte or text stream, or an (async) iterable of chunks. */
export type StreamSource =
  | ReadableStream<Uint8Array | string>
  | AsyncIterable<Uint8Array | string>
  | Iterable<Uint8Array | string>;

function withDefaultType(init: ResponseInit | undefined, type: string): ResponseInit {
  const headers = new Headers(init?.headers);
  if (!headers.has("content-type")) headers.set("content-type", type);
  return { ...init, headers };
}

/** The request context every middleware and handler receives. */
export class Context<State> {
  /** The incoming request. */
  readonly req: Request;
  /** The parsed request URL. */
  readonly url: URL;
  /** Connection info (remote address …); undefined when called without it (tests). */
  readonly info: ServerInfo | undefined;
  /** The app configuration. */
  readonly config: FreshConfig;
  /** Decoded route parameters of the matched route (`{}` when none matched). */
  params: Record<string, string> = {};
  /** The matched route pattern (e.g. `/runs/:id`), or null. */
  route: string | null = null;
  /** Per-request state shared by middleware and handlers. */
  state: State = {} as State;
  /** The error being handled, in `onError` handlers and `_error` pages. */
  error: unknown = undefined;
  /**
   * Runs the rest of the middleware chain and the route handler, and returns their response.
   * Replaced for each middleware layer by the app.
   */
  next: () => Promise<Response> = () => Promise.reject(new Error("next() called outside a chain"));

  #host: ContextHost;

  /** Created by the app for each request. */
  constructor(
    req: Request,
    url: URL,
    info: ServerInfo | undefined,
    config: FreshConfig,
    host: ContextHost,
  ) {
    this.req = req;
    this.url = url;
    this.info = info;
    this.config = config;
    this.#host = host;
  }

  /**
   * Renders `content` as an HTML page inside the route's layouts and `_app`
   * (`content-type: text/html; charset=utf-8`, `<!DOCTYPE html>`).
   */
  render(content: ComponentChildren, init?: PageInit): Promise<Response> {
    return this.#host.renderPage(this as Context<unknown>, content, init);
  }

  /**
   * A redirect to `location` (default 302). A protocol-relative target (`//evil.example`) is
   * collapsed to a path so user-supplied paths cannot redirect off-site.
   */
  redirect(location: string, status = 302): Response {
    let target = location;
    if (/^[/\\]{2,}/.test(target)) target = "/" + target.replace(/^[/\\]+/, "");
    return new Response(null, { status, headers: { location: target } });
  }

  /** A JSON response (`application/json; charset=utf-8`). */
  json(value: unknown, init?: ResponseInit): Response {
    return new Response(
      JSON.stringify(value),
      withDefaultType(init, "application/json; charset=utf-8"),
    );
  }

  /** A plain text response (`text/plain; charset=utf-8`). */
  text(body: string, init?: ResponseInit): Response {
    return new Response(body, withDefaultType(init, "text/plain; charset=utf-8"));
  }

  /** An HTML response from a string (`text/html; charset=utf-8`); use `render()` for pages. */
  html(body: string, init?: ResponseInit): Response {
    return new Response(body, withDefaultType(init, "text/html; charset=utf-8"));
  }

  /**
   * A streamed response. Strings are UTF-8 encoded. Cancelling the response (client gone)
   * cancels the source stream or calls the iterator's `return()`, so producers can stop.
   */
  stream(source: StreamSource, init?: ResponseInit): Response {
    const encoder = new TextEncoder();
    const toBytes = (chunk: Uint8Array | string) =>
      typeof chunk === "string" ? encoder.encode(chunk) : chunk;
    const readable = source instanceof ReadableStream
      ? source
      : ReadableStream.from(source as AsyncIterable<Uint8Array | string>);
    const body = readable.pipeThrough(
      new TransformStream<Uint8Array | string, Uint8Array>({
        transform(chunk, controller) {
          controller.enqueue(toBytes(chunk));
        },
      }),
    );
    return new Response(body, init);
  }
}
