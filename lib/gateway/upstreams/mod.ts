/**
 * Chooses the workflow service client by `WORKFLOW_SERVICE_PROTOCOL`: the gateway's own
 * `/execute` contract, a LangGraph server, or an AG-UI agent. Every one is an {@link Upstream};
 * nothing past this factory knows which protocol is behind it.
 * @module
 */
import {
  createUpstream,
  type Upstream,
  type UpstreamOptions,
  type UpstreamProtocol,
} from "../upstream.ts";
import { createLangGraphUpstream } from "./langgraph.ts";
import { createAguiUpstream } from "./agui.ts";

/** Options of {@link createProtocolUpstream}. */
export interface ProtocolUpstreamOptions extends UpstreamOptions {
  /** `WORKFLOW_SERVICE_PROTOCOL`; `langgraph` and `agui` need `url`. */
  protocol: UpstreamProtocol;
  /** AG-UI: the graph name runs report when the agent offers no graph list. */
  defaultGraph?: string;
}

/**
 * The workflow service client for `protocol`. `token` is sent as `x-api-key` to a LangGraph
 * server and as `Authorization: Bearer` otherwise.
 * @throws {TypeError} when `langgraph` or `agui` has no `url`.
 */
export function createProtocolUpstream(opts: ProtocolUpstreamOptions): Upstream {
  switch (opts.protocol) {
    case "execute":
      return createUpstream(opts);
    case "langgraph":
    case "agui": {
      const url = opts.url;
      if (url === undefined) throw new TypeError(`the ${opts.protocol} protocol needs a URL`);
      return opts.protocol === "langgraph"
        ? createLangGraphUpstream({ ...opts, url })
        : createAguiUpstream({ ...opts, url });
    }
  }
}
