/**
 * A LangGraph server as the workflow service (`WORKFLOW_SERVICE_PROTOCOL=langgraph`): the HTTP
 * API `@langchain/langgraph-sdk` 1.x speaks (`langgraph dev`, `langgraphjs dev`, LangGraph
 * Platform). A gateway run is one LangGraph thread (id derived from the run id); the start and
 * each decision are runs on it, streamed with `stream_resumable` so any gateway can rejoin them.
 * The stream is translated to the workflow vocabulary by `langgraph_map.ts`.
 * @module
 */
import type { ExecuteRequest, GraphInfo } from "../../events.ts";
import { GRAPH_NAME_RE } from "../../events.ts";
import type { RejoinResult, Upstream, UpstreamOptions } from "../upstream.ts";
import { parseJsonAnswer, UpstreamError } from "../upstream_errors.ts";
import { createTransport } from "../upstream_transport.ts";
import {
  createLangGraphMapper,
  isAfterId,
  type MapperInit,
  parseId,
  type RunRecord,
  threadIdOf,
} from "./langgraph_map.ts";
import { translateStream } from "./translate.ts";

/** The stream modes the module asks for: node starts/ends, interrupts, custom writes. */
export const LANGGRAPH_STREAM_MODE = ["tasks", "updates", "custom"] as const;

/** One run of a thread as `GET /threads/{t}/runs` lists it. */
interface RunInfo extends RunRecord {
  run_id: string;
  created_at?: string;
  assistant_id?: string;
  metadata?: Record<string, unknown>;
  kwargs?: RunRecord["kwargs"] & { input?: unknown };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Creates the LangGraph server client; `token` goes out as `x-api-key`. */
export function createLangGraphUpstream(
  opts: UpstreamOptions & { url: string; now?: () => number },
): Upstream {
  const t = createTransport({
    ...opts,
    authHeaders: opts.token ? { "x-api-key": opts.token } : undefined,
  });
  const now = opts.now ?? Date.now;
  const json = (extra: Record<string, string> = {}) =>
    t.headers({ "content-type": "application/json", accept: "application/json", ...extra });

  async function getJson(what: string, path: string): Promise<unknown> {
    const { text } = await t.callJson(what, path, { method: "GET", headers: json() });
    return parseJsonAnswer(what, text);
  }

  async function postJson(what: string, path: string, body: unknown): Promise<unknown> {
    const { text } = await t.callJson(what, path, {
      method: "POST",
      headers: json(),
      body: JSON.stringify(body),
    });
    return text.trim() === "" ? null : parseJsonAnswer(what, text);
  }

  /** The graph's nodes as `workflow_initialized.steps` (null when the server cannot say). */
  async function stepsOf(graph: string): Promise<{ name: string; title: string }[] | null> {
    try {
      const g = await getJson("LangGraph assistant graph", `assistants/${graph}/graph`);
      const nodes = isObject(g) && Array.isArray(g.nodes) ? g.nodes : [];
      return nodes.filter(isObject)
        .map((n) => String(n.id))
        .filter((id) => !id.startsWith("__"))
        .map((name) => ({ name, title: name }));
    } catch {
      return null;
    }
  }

  function initialized(
    workflowId: string,
    graph: string,
    input: unknown,
    steps: { name: string; title: string }[] | null,
  ): Record<string, unknown> {
    return {
      graph,
      title: graph,
      ...(steps ? { steps } : {}),
      input: input ?? {},
      workflowId,
      ts: new Date(now()).toISOString(),
    };
  }

  /** The stream of one run, translated; its close reads the run's status back. */
  function translate(
    body: ReadableStream<Uint8Array>,
    thread: string,
    init: MapperInit,
    /** A later run exists on the thread: this one ended at a gate (a decision followed). */
    followed = false,
  ): ReadableStream<Uint8Array> {
    const m = createLangGraphMapper({ ...init, now });
    return translateStream(body, {
      frame: (f) => m.frame(f),
      async end() {
        if (!m.needsStatus) return [];
        const run = m.runId;
        if (!run) {
          throw new UpstreamError("the LangGraph stream ended before naming its run", {
            code: "upstream_error",
          });
        }
        const record = await getJson("LangGraph run", `threads/${thread}/runs/${run}`) as RunInfo;
        const state = await getJson("LangGraph thread state", `threads/${thread}/state`)
          .catch(() => null);
        // The thread waits on an interrupt: the run paused at a gate (a join can start after
        // the frames that said so).
        const waiting = isObject(state) && Array.isArray(state.tasks) &&
          state.tasks.some((t) =>
            isObject(t) && Array.isArray(t.interrupts) && t.interrupts.length > 0
          );
        const out = m.end(record, isObject(state) ? state.values : null, followed || waiting);
        if (out === null) {
          throw new UpstreamError(
            `the LangGraph stream closed while the run was ${record.status ?? "unknown"}`,
            { code: "upstream_error" },
          );
        }
        return out;
      },
    });
  }

  async function listRuns(thread: string): Promise<RunInfo[] | null> {
    try {
      const list = await getJson("LangGraph thread runs", `threads/${thread}/runs?limit=100`);
      if (!Array.isArray(list)) return [];
      return (list.filter(isObject) as unknown as RunInfo[])
        .filter((r) => typeof r.run_id === "string")
        .sort((a, b) => a.run_id < b.run_id ? -1 : a.run_id > b.run_id ? 1 : 0);
    } catch (error) {
      if (error instanceof UpstreamError && error.upstreamStatus === 404) return null;
      throw error;
    }
  }

  return {
    mode: "external",
    protocol: "langgraph",

    async execute(body: ExecuteRequest, signal?: AbortSignal) {
      signal?.throwIfAborted();
      const thread = await threadIdOf(body.thread_id);
      const start = body.resume === undefined;
      let steps: { name: string; title: string }[] | null = null;
      if (start) {
        await postJson("LangGraph POST /threads", "threads", {
          thread_id: thread,
          if_exists: "do_nothing",
          metadata: { workflow_run_id: body.thread_id, graph_id: body.graph_name },
        });
        steps = await stepsOf(body.graph_name);
      }
      const runBody: Record<string, unknown> = {
        assistant_id: body.graph_name,
        stream_mode: LANGGRAPH_STREAM_MODE,
        stream_resumable: true,
        // The run goes on when the relay's connection drops: another gateway rejoins it.
        on_disconnect: "continue",
        metadata: { workflow_run_id: body.thread_id },
      };
      if (start) runBody.input = body.initial_state;
      else {
        const r = body.resume!;
        runBody.command = {
          resume: {
            decision: r.decision,
            ...(r.comment !== undefined ? { comment: r.comment } : {}),
            stepId: r.stepId,
          },
        };
      }
      const upstream = await t.openStream(
        "LangGraph runs/stream",
        `threads/${thread}/runs/stream`,
        {
          method: "POST",
          headers: t.headers({ "content-type": "application/json", accept: "text/event-stream" }),
          body: JSON.stringify(runBody),
        },
        signal,
      );
      return translate(upstream, thread, {
        workflowId: body.thread_id,
        initialized: start
          ? initialized(body.thread_id, body.graph_name, body.initial_state, steps)
          : undefined,
      });
    },

    async rejoin(threadId, afterId, signal): Promise<RejoinResult> {
      const thread = await threadIdOf(threadId);
      const runs = await listRuns(thread);
      if (runs === null) {
        return { kind: "unknown_thread", reason: `LangGraph has no thread ${thread}` };
      }
      const after = afterId === null ? null : parseId(afterId);
      if (afterId !== null && after === null) {
        return { kind: "unknown_thread", reason: `not a LangGraph upstream id: ${afterId}` };
      }
      const from = after === null ? 0 : runs.findIndex((r) => r.run_id === after.run);
      if (from < 0) {
        return { kind: "unknown_thread", reason: `LangGraph no longer knows run ${after!.run}` };
      }
      const todo = runs.slice(from);
      if (todo.length === 0) {
        return { kind: "unknown_thread", reason: `LangGraph thread ${thread} has no runs` };
      }
      const first = runs[0];
      const steps = after === null ? await stepsOf(graphOf(first)) : null;
      // Each run after the one the relay was reading, in order: a decision made while the
      // relay was away started one.
      const streams = todo.map((run, i) => async () => {
        const lastId = i === 0 && after !== null ? String(after.event) : "-1";
        const upstream = await t.openStream(
          "LangGraph join stream",
          `threads/${thread}/runs/${run.run_id}/stream`,
          {
            method: "GET",
            headers: t.headers({ accept: "text/event-stream", "last-event-id": lastId }),
          },
          signal,
        );
        const isFirstRun = run.run_id === first.run_id && after === null;
        return translate(upstream, thread, {
          workflowId: threadId,
          runId: run.run_id,
          initialized: isFirstRun
            ? initialized(threadId, graphOf(run), run.kwargs?.input, steps)
            : undefined,
        }, i < todo.length - 1);
      });
      return { kind: "stream", body: concatStreams(streams) };
    },

    isAfter: isAfterId,

    async abort(threadId: string) {
      const thread = await threadIdOf(threadId);
      const runs = await listRuns(thread);
      for (const run of runs ?? []) {
        if (run.status !== "pending" && run.status !== "running") continue;
        await postJson(
          "LangGraph run cancel",
          `threads/${thread}/runs/${run.run_id}/cancel`,
          {},
        ).catch((error) => {
          // A run that finished meanwhile cannot be cancelled: nothing left to stop.
          if (!(error instanceof UpstreamError && error.upstreamStatus === 404)) throw error;
        });
      }
    },

    health() {
      return t.probe("LangGraph GET /ok", "ok");
    },

    async graphs(): Promise<GraphInfo[]> {
      const list = await postJson("LangGraph POST /assistants/search", "assistants/search", {
        limit: 1000,
      });
      if (!Array.isArray(list)) {
        throw new UpstreamError("LangGraph /assistants/search: answer is not a list", {
          code: "upstream_bad_response",
          body: list,
        });
      }
      const seen = new Map<string, GraphInfo>();
      for (const a of list.filter(isObject)) {
        const id = a.graph_id;
        // Graph ids the gateway cannot name in a run (not lower snake case) are left out.
        if (typeof id !== "string" || !GRAPH_NAME_RE.test(id) || seen.has(id)) continue;
        seen.set(id, {
          name: id,
          title: typeof a.name === "string" && a.name ? a.name : id,
          domain: "langgraph",
          description: typeof a.description === "string" ? a.description : "",
        });
      }
      return [...seen.values()];
    },
  };
}

function graphOf(run: RunInfo): string {
  const g = run.metadata?.graph_id;
  return typeof g === "string" ? g : String(run.assistant_id ?? "unknown");
}

/** The streams one after another, each opened only when the previous one ended. */
function concatStreams(
  parts: (() => Promise<ReadableStream<Uint8Array>>)[],
): ReadableStream<Uint8Array> {
  let i = 0;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      for (;;) {
        if (!reader) {
          if (i >= parts.length) {
            c.close();
            return;
          }
          reader = (await parts[i++]()).getReader();
        }
        const r = await reader.read();
        if (!r.done) {
          c.enqueue(r.value);
          return;
        }
        reader = undefined;
      }
    },
    cancel(reason) {
      return reader?.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
