/**
 * Turns the routes of a `fresh.gen.ts` manifest into a plan the `App` registers. File
 * conventions: `index`, `[param]`, `[...rest]`, `[[optional]]`, `(group)` folders (no path
 * segment), `_app`, `_layout`, `_middleware`, `_404`, `_error`/`_500` (root only); other `_` files
 * and folders starting with `_` or `(_` are ignored. A folder `_middleware` applies to every
 * request under the folder's path (also 404s there); inside a `(group)` it applies to the
 * group's routes only, since a group has no path of its own.
 * @module
 */
import type { ComponentType } from "preact";
import { type HandlerFn, METHODS, type Middleware, type RouteModule } from "./handlers.ts";
import { page, type PageProps } from "./page.ts";

/** A page, layout or `_app` component of any data and state. */
// deno-lint-ignore no-explicit-any
export type AnyPageComponent = ComponentType<PageProps<any, any>>;

/** Where a page is rendered: its component and the layouts around it (outermost first). */
export interface PageTarget {
  /** The page component, if the route has one. */
  component?: AnyPageComponent;
  /** `_layout` components from the root down. */
  layouts: AnyPageComponent[];
}

/** A not-found or error page: its handler and where it renders. */
export interface SpecialPage<State> {
  /** Its handler (the default renders the component). */
  fn: HandlerFn<unknown, State>;
  /** Where it renders. */
  target: PageTarget;
}

/** Converts a manifest route file name (`[id]`, `[...rest]`, `[[opt]]`) to a pattern segment. */
function fileSegment(name: string): string {
  let m: RegExpExecArray | null;
  if ((m = /^\[\.\.\.(.+)\]$/.exec(name))) return `:${m[1]}*`;
  if ((m = /^\[\[(.+)\]\]$/.exec(name))) return `:${m[1]}?`;
  if ((m = /^\[(.+)\]$/.exec(name))) return `:${m[1]}`;
  return name;
}

const isGroup = (dir: string) => /^\(.+\)$/.test(dir);

function asMiddlewares<State>(mod: RouteModule, key: string): Middleware<State>[] {
  const value = mod.default ?? mod.handler;
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || list.some((fn) => typeof fn !== "function")) {
    throw new TypeError(`${key}: export a middleware function (or an array) as default or handler`);
  }
  return list as Middleware<State>[];
}

/** The handlers a route module exports, by method (`*` for a function handler). */
export function handlersOf<State>(
  mod: RouteModule,
  key: string,
): Map<string, HandlerFn<unknown, State>> {
  const map = new Map<string, HandlerFn<unknown, State>>();
  const handler = mod.handler;
  if (handler === undefined) return map;
  if (typeof handler === "function") {
    map.set("*", handler as HandlerFn<unknown, State>);
    return map;
  }
  if (typeof handler !== "object" || handler === null) {
    throw new TypeError(`${key}: handler must be a function or an object of methods`);
  }
  for (const [method, fn] of Object.entries(handler)) {
    if (!(METHODS as readonly string[]).includes(method) || typeof fn !== "function") {
      throw new TypeError(`${key}: handler.${method} is not a method handler`);
    }
    map.set(method, fn as HandlerFn<unknown, State>);
  }
  return map;
}

function specialPage<State>(mod: RouteModule, target: PageTarget, key: string): SpecialPage<State> {
  if (mod.handler !== undefined && typeof mod.handler !== "function") {
    throw new TypeError(`${key}: handler must be a function`);
  }
  if (!target.component && typeof mod.handler !== "function") {
    throw new TypeError(`${key}: export a default component or a handler`);
  }
  const fn = (mod.handler as HandlerFn<unknown, State> | undefined) ?? (() => page());
  return { fn, target };
}

/** One route to register. */
export interface PlannedRoute<State> {
  /** Pattern (`/runs/:id`). */
  path: string;
  /** Handlers by method. */
  handlers: Map<string, HandlerFn<unknown, State>>;
  /** Component and layouts. */
  target: PageTarget;
  /** Middleware of the route's `(group)` folders. */
  middlewares: Middleware<State>[];
}

/** What `planFsRoutes` found. */
export interface FsRoutePlan<State> {
  /** `_app` default export. */
  appWrapper: AnyPageComponent | null;
  /** `_404`. */
  notFound: SpecialPage<State> | null;
  /** `_error` / `_500`. */
  onError: SpecialPage<State> | null;
  /** Folder middleware with the path it covers, outermost first. */
  middlewares: { path: string; fns: Middleware<State>[] }[];
  /** The routes. */
  routes: PlannedRoute<State>[];
}

/** Reads the manifest's route modules; throws on malformed modules, naming the file. */
export function planFsRoutes<State>(routes: Record<string, RouteModule>): FsRoutePlan<State> {
  const plan: FsRoutePlan<State> = {
    appWrapper: null,
    notFound: null,
    onError: null,
    middlewares: [],
    routes: [],
  };
  const files = Object.entries(routes).map(([key, mod]) => {
    const rel = key.replace(/^\.\/routes\//, "");
    if (rel === key) throw new TypeError(`Manifest route keys start with ./routes/: ${key}`);
    const dirs = rel.split("/");
    const name = dirs.pop()!.replace(/\.[jt]sx?$/, "");
    return { key, mod, dirs, name };
  }).filter((f) => !f.dirs.some((d) => d.startsWith("_") || d.startsWith("(_")));

  const layouts = new Map<string, AnyPageComponent>();
  const groupMiddlewares = new Map<string, Middleware<State>[]>();
  const ancestors = (dirs: string[]) => dirs.map((_, i) => dirs.slice(0, i + 1).join("/"));
  const scopeOf = (dirs: string[]) => ["", ...ancestors(dirs)];

  for (const f of files) {
    if (f.name === "_layout") {
      if (typeof f.mod.default !== "function") throw new TypeError(`${f.key}: no default export`);
      layouts.set(f.dirs.join("/"), f.mod.default as AnyPageComponent);
    }
  }
  const mwFiles = files.filter((f) => f.name === "_middleware")
    .sort((a, b) => a.dirs.length - b.dirs.length || (a.key < b.key ? -1 : 1));
  for (const f of mwFiles) {
    const fns = asMiddlewares<State>(f.mod, f.key);
    if (f.dirs.some(isGroup)) groupMiddlewares.set(f.dirs.join("/"), fns);
    else plan.middlewares.push({ path: "/" + f.dirs.map(fileSegment).join("/"), fns });
  }

  for (const f of files) {
    const target = {
      component: typeof f.mod.default === "function"
        ? f.mod.default as AnyPageComponent
        : undefined,
      layouts: scopeOf(f.dirs).flatMap((d) => layouts.get(d) ?? []),
    };
    const atRoot = f.dirs.every(isGroup);
    if (f.name === "_app") {
      if (!atRoot || !target.component) throw new TypeError(`${f.key}: _app must be at the root`);
      plan.appWrapper = target.component;
    } else if (f.name === "_404" || f.name === "_error" || f.name === "_500") {
      const special = specialPage<State>(f.mod, target, f.key);
      if (f.name === "_404") plan.notFound = special;
      else plan.onError = special;
    } else if (!f.name.startsWith("_")) {
      const segments = f.dirs.filter((d) => !isGroup(d)).map(fileSegment);
      if (f.name !== "index") segments.push(fileSegment(f.name));
      const path = f.mod.config?.routeOverride ?? "/" + segments.join("/");
      const mws = scopeOf(f.dirs).flatMap((d) => groupMiddlewares.get(d) ?? []);
      plan.routes.push({
        path,
        handlers: handlersOf<State>(f.mod, f.key),
        target,
        middlewares: mws,
      });
    }
  }
  return plan;
}
