/**
 * An AG-UI agent as the workflow service (`WORKFLOW_SERVICE_PROTOCOL=agui`): each start and
 * each decision `POST`s a `RunAgentInput` to the agent's URL (`{graph}` in it is replaced by
 * the run's graph name) on the thread named by the gateway's run id, and the AG-UI events that
 * come back are translated by `agui_map.ts`, each keeping its original for AG-UI clients.
 *
 * AG-UI has no way to join a run's stream again: `rejoin` is `unsupported`, so a relay that
 * loses the stream records a truthful `relay_lost`. Nor has it a cancel endpoint: `abort`
 * closes this process's connection to the agent (what AG-UI clients do to stop a run).
 * @module
 */
import { type ExecuteRequest, GRAPH_NAME_RE, type GraphInfo } from "../../events.ts";
import type { RejoinResult, Upstream, UpstreamOptions } from "../upstream.ts";
import { describe, parseJsonAnswer, UpstreamError } from "../upstream_errors.ts";
import { createTransport, type UpstreamHealth } from "../upstream_transport.ts";
import { createAguiMapper } from "./agui_map.ts";
import { translateStream } from "./translate.ts";

/** Options of {@link createAguiUpstream}. */
export interface AguiUpstreamOptions extends UpstreamOptions {
  /** The agent's URL; `{graph}` in it (e.g. `…/agent/{graph}/run`) is the run's graph. */
  url: string;
  /** The one graph a URL without `{graph}` offers. */
  defaultGraph?: string;
  /** Clock (ms since epoch). */
  now?: () => number;
}

const PLACEHOLDER_RE = /\{graph\}|%7Bgraph%7D/i;

/** Creates the AG-UI agent client; `token` goes out as `Authorization: Bearer`. */
export function createAguiUpstream(opts: AguiUpstreamOptions): Upstream {
  const target = new URL(opts.url);
  const t = createTransport({
    ...opts,
    url: target.origin,
    authHeaders: opts.token ? { authorization: `Bearer ${opts.token}` } : undefined,
  });
  const now = opts.now ?? Date.now;
  const templated = PLACEHOLDER_RE.test(opts.url);
  const defaultGraph = opts.defaultGraph ?? "agent";
  const pathOf = (graph: string) =>
    (target.pathname + target.search).replace(PLACEHOLDER_RE, encodeURIComponent(graph))
      .replace(/^\//, "");
  /** This process's live connections per thread, closed by `abort`. */
  const live = new Map<string, AbortController>();
  let seq = 0;

  return {
    mode: "external",
    protocol: "agui",

    async execute(body: ExecuteRequest, signal?: AbortSignal) {
      signal?.throwIfAborted();
      const start = body.resume === undefined;
      const input: Record<string, unknown> = {
        threadId: body.thread_id,
        runId: crypto.randomUUID(),
        messages: start && typeof body.initial_state.prompt === "string"
          ? [{ id: crypto.randomUUID(), role: "user", content: body.initial_state.prompt }]
          : [],
        state: start ? body.initial_state : {},
        tools: [],
        context: [],
        forwardedProps: { graph_name: body.graph_name },
      };
      if (!start) {
        const r = body.resume!;
        input.resume = [{
          interruptId: r.stepId,
          status: "resolved",
          payload: {
            decision: r.decision,
            ...(r.comment !== undefined ? { comment: r.comment } : {}),
            stepId: r.stepId,
          },
        }];
      }
      const ac = new AbortController();
      const onAbort = () => ac.abort(signal!.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      live.get(body.thread_id)?.abort();
      live.set(body.thread_id, ac);
      const forget = () => {
        signal?.removeEventListener("abort", onAbort);
        if (live.get(body.thread_id) === ac) live.delete(body.thread_id);
      };
      let upstream: ReadableStream<Uint8Array>;
      try {
        upstream = await t.openStream("AG-UI agent run", pathOf(body.graph_name), {
          method: "POST",
          headers: t.headers({ "content-type": "application/json", accept: "text/event-stream" }),
          body: JSON.stringify(input),
        }, ac.signal);
      } catch (error) {
        forget();
        throw error;
      }
      // Ids order this process's runs of the thread; nothing rejoins them (AG-UI cannot).
      const m = createAguiMapper({
        workflowId: body.thread_id,
        graph: body.graph_name,
        input: start ? body.initial_state : undefined,
        idPrefix: `${now()}.${String(seq++).padStart(6, "0")}`,
        now,
      });
      const gatewayAbort = () => ac.signal.aborted && !signal?.aborted;
      return translateStream(upstream, {
        frame: (f) => m.frame(f),
        end() {
          forget();
          return Promise.resolve(gatewayAbort() ? m.aborted() : m.end());
        },
        broke() {
          forget();
          return gatewayAbort() ? m.aborted() : null;
        },
      });
    },

    rejoin(): Promise<RejoinResult> {
      return Promise.resolve({
        kind: "unsupported",
        reason: "AG-UI agents cannot replay a run's stream",
      });
    },

    isAfter(a: string, b: string) {
      const [x, i] = a.split(":");
      const [y, j] = b.split(":");
      return x === y ? Number(i) > Number(j) : x > y;
    },

    abort(threadId: string) {
      live.get(threadId)?.abort(new Error("aborted by the gateway"));
      return Promise.resolve();
    },

    async health(): Promise<UpstreamHealth> {
      // AG-UI defines no health endpoint: any HTTP answer below 500 on the agent's URL (most
      // agents take only POST) shows it is up.
      const started = performance.now();
      const latency = () => Math.round((performance.now() - started) * 10) / 10;
      try {
        const { res } = await t.callJson("AG-UI agent", pathOf(defaultGraph), {
          method: "GET",
          headers: t.headers({ accept: "application/json" }),
        }, t.healthTimeoutMs);
        return { reachable: true, latency_ms: latency(), status: res.status };
      } catch (error) {
        if (
          error instanceof UpstreamError && error.upstreamStatus !== undefined &&
          error.upstreamStatus < 500
        ) {
          return { reachable: true, latency_ms: latency(), status: error.upstreamStatus };
        }
        return {
          reachable: false,
          latency_ms: latency(),
          error: describe(error),
          ...(error instanceof UpstreamError && error.upstreamStatus !== undefined
            ? { status: error.upstreamStatus }
            : {}),
        };
      }
    },

    async graphs(): Promise<GraphInfo[]> {
      if (templated) {
        // AG-UI lists no agents; a CopilotKit runtime does (`GET <prefix>/info`, beside its
        // `<prefix>/agent/{graph}/run`). Elsewhere only the agent knows: the start decides.
        const prefix = /^(.*)\/agent\/(?:\{graph\}|%7Bgraph%7D)\/run$/i.exec(target.pathname);
        if (!prefix) {
          throw new UpstreamError("an AG-UI agent does not list its graphs", {
            code: "upstream_bad_response",
          });
        }
        const what = "AG-UI runtime /info";
        const { text } = await t.callJson(what, `${prefix[1]}/info`.replace(/^\//, ""), {
          method: "GET",
          headers: t.headers({ accept: "application/json" }),
        });
        const info = parseJsonAnswer(what, text) as { agents?: unknown } | null;
        const agents = info?.agents;
        if (typeof agents !== "object" || agents === null) {
          throw new UpstreamError(`${what}: no agents`, { code: "upstream_bad_response" });
        }
        return Object.entries(agents as Record<string, { description?: unknown }>)
          .filter(([name]) => GRAPH_NAME_RE.test(name))
          .map(([name, a]) => ({
            name,
            title: name,
            domain: "agui",
            description: typeof a?.description === "string" ? a.description : "",
          }));
      }
      return [{
        name: defaultGraph,
        title: defaultGraph,
        domain: "agui",
        description: `the AG-UI agent at ${target.origin}${target.pathname}`,
      }];
    },
  };
}
