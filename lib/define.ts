/**
 * The app's request state and its typed `define` helpers (`define.handlers`, `define.page`,
 * `define.middleware`), as Fresh 2 projects declare them.
 * @module
 */
import { createDefine, type Define } from "fresh";
import type { Services } from "./services.ts";

/** Per-request state shared by middleware, handlers and pages. */
export interface State {
  /** The process's services, set by the first middleware `createApp` installs. */
  services: Services;
  /** CSP nonce; when set, the island boot script carries it. */
  nonce?: string;
  /** The client's address (rate limiting, logs). */
  clientIp?: string;
  /** The request id (logs, error bodies). */
  requestId?: string;
  /** True on a page reached with a dashboard session or the token (the header offers sign-out). */
  signedIn?: boolean;
}

/** Typing helpers bound to `State`. */
export const define: Define<State> = createDefine<State>();
