/**
 * A CopilotKit runtime runner (`@copilotkit/runtime` 1.75, `new CopilotRuntime({runner})`) whose
 * reconnect reads the Workflow Stream gateway's run log instead of the runtime's memory.
 *
 * CopilotKit's `InMemoryAgentRunner` replays a thread from the runtime process's own copy of its
 * events: after the Stop button, a page reload or a runtime restart that copy is partial or gone,
 * and with it the approval gate the gateway's run still waits on. This runner keeps the
 * in-memory `run()` (it runs the registered `HttpAgent`, which POSTs to the gateway's `/agui`)
 * and replaces `connect()`: it finds the thread's latest run with
 * `GET /agui/runs?thread=<threadId>` and streams `GET /agui/runs/:id/events?dialect=agui`, one
 * AG-UI run (RUN_STARTED, a STATE_SNAPSHOT of the run so far, what follows, and the pending
 * interrupt if the run waits on a gate), ending at the first RUN_FINISHED or RUN_ERROR.
 *
 * The runner takes CopilotKit's `InMemoryAgentRunner` and rxjs' `Observable` from the caller, so
 * it uses the very copies the app's runtime uses and needs no install of its own:
 *
 *     const { CopilotRuntime, InMemoryAgentRunner } = require("@copilotkit/runtime/v2");
 *     const { Observable } = require("rxjs");
 *     const runner = createGatewayRunner(
 *       { InMemoryAgentRunner, Observable },
 *       { gatewayUrl: "http://localhost:8000" },
 *     );
 *     new CopilotRuntime({ agents: { workflows: new HttpAgent({ url: gatewayUrl + "/agui" }) }, runner });
 *
 * Node 18+ (global `fetch`). CommonJS, so an ES module app imports it as well.
 * @module
 */
"use strict";

/** AG-UI events that end one AG-UI run. */
const TERMINAL = new Set(["RUN_FINISHED", "RUN_ERROR"]);

/**
 * Yields the JSON of each `data:` block of an SSE body. Comments (heartbeats), `retry:` and `id:`
 * lines carry nothing for an AG-UI client and are skipped; CRLF and LF both end lines.
 * @param {ReadableStream<Uint8Array>} body
 * @returns {AsyncGenerator<Record<string, unknown>>}
 */
async function* sseJson(body) {
  const decoder = new TextDecoder();
  let buf = "";
  let data = [];
  for await (const chunk of body) {
    buf += decoder.decode(chunk, { stream: true });
    let nl;
    while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + (buf[nl] === "\r" && buf[nl + 1] === "\n" ? 2 : 1));
      if (line === "") {
        if (data.length > 0) yield JSON.parse(data.join("\n"));
        data = [];
      } else if (line.startsWith("data:")) {
        data.push(line.slice(line[5] === " " ? 6 : 5));
      }
    }
  }
}

/**
 * Creates the runner.
 * @param {{ InMemoryAgentRunner: new (...args: any[]) => any, Observable: new (subscribe: (subscriber: any) => (() => void)) => any }} copilotkit
 *   `InMemoryAgentRunner` from `@copilotkit/runtime/v2` and `Observable` from `rxjs`.
 * @param {{ gatewayUrl: string, headers?: Record<string, string>, fetch?: typeof fetch, runnerOptions?: Record<string, unknown> }} options
 *   `gatewayUrl`: the gateway's origin (no `/agui`); `headers`: sent to the gateway on every
 *   replay (e.g. `Authorization` when it has `GATEWAY_TOKEN`; an `authorization` header the
 *   runtime forwards from the agent wins); `runnerOptions`: passed to `InMemoryAgentRunner`.
 * @returns {any} an `AgentRunner` for `new CopilotRuntime({ runner })`.
 */
function createGatewayRunner(copilotkit, options) {
  const { InMemoryAgentRunner, Observable } = copilotkit;
  const base = String(options.gatewayUrl).replace(/\/+$/, "");
  const fetchFn = options.fetch ?? globalThis.fetch;

  class GatewayRunner extends InMemoryAgentRunner {
    /**
     * Replays the thread's latest gateway run. A run this runtime is streaming right now is
     * followed from memory (the same events, plus the messages only the runtime holds); a
     * thread the gateway does not know falls back to memory too.
     */
    connect(request) {
      const threadId = request.threadId;
      const headers = { ...options.headers };
      const auth = request.headers?.authorization ?? request.headers?.Authorization;
      if (auth) headers.authorization = auth;
      return new Observable((subscriber) => {
        const stop = new AbortController();
        let inner;
        const fromMemory = () => {
          inner = super.connect(request).subscribe(subscriber);
        };
        (async () => {
          if (await super.isRunning({ threadId })) return fromMemory();
          const list = await fetchFn(
            `${base}/agui/runs?thread=${encodeURIComponent(threadId)}&limit=1`,
            { headers: { ...headers, accept: "application/json" }, signal: stop.signal },
          );
          if (!list.ok) throw new Error(`gateway run list: HTTP ${list.status}`);
          const [run] = (await list.json()).runs ?? [];
          if (!run) return fromMemory();
          const res = await fetchFn(
            `${base}/agui/runs/${encodeURIComponent(run.id)}/events?dialect=agui`,
            { headers: { ...headers, accept: "text/event-stream" }, signal: stop.signal },
          );
          // 204: a finished run with nothing to send.
          if (res.status === 204) return subscriber.complete();
          if (!res.ok || !res.body) throw new Error(`gateway run events: HTTP ${res.status}`);
          for await (const event of sseJson(res.body)) {
            subscriber.next(event);
            // One AG-UI run per connect: the gateway keeps a paused run's stream open, and
            // the client's resume is a new run of its own.
            if (TERMINAL.has(event.type)) break;
          }
          subscriber.complete();
        })().catch((err) => {
          if (!stop.signal.aborted) subscriber.error(err);
        }).finally(() => stop.abort());
        return () => {
          stop.abort();
          inner?.unsubscribe();
        };
      });
    }
  }
  return new GatewayRunner(options.runnerOptions);
}

module.exports = { createGatewayRunner };
