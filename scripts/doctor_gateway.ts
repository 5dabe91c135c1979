/**
 * The doctor's checks of a running gateway: `/health` and, through it, the workflow service's
 * health, the graph list (which picks the graph and prompt of the streamed run), `/metrics`, and
 * then the streamed run itself.
 * @module
 */
import type { Config } from "../lib/config.ts";
import { describeError, fetchWithin, type Report } from "./doctor_check.ts";
import { checkRun } from "./doctor_run.ts";

/** Reports every check of the gateway at `base`; stops after `/health` when nothing answers. */
export async function checkGateway(
  base: string,
  config: Config,
  timeoutMs: number,
  report: Report,
): Promise<void> {
  const auth: Record<string, string> = config.GATEWAY_TOKEN
    ? { authorization: `Bearer ${config.GATEWAY_TOKEN}` }
    : {};

  // /health, and through it the workflow service's health.
  let health: Record<string, unknown> | null = null;
  try {
    // With a token set, /health shows its details only to a caller that sends it.
    const res = await fetchWithin(`${base}/health`, { headers: auth }, 10_000);
    const body = await res.json().catch(() => null);
    health = body;
    report({
      ok: res.status === 200 && body?.status === "ok",
      name: "gateway /health",
      detail: `${res.status} ${
        body ? `status ${body.status}, version ${body.version}` : "(not JSON)"
      }`,
      fix: "the gateway answers but is degraded: see the workflow service check below",
    });
  } catch (err) {
    report({
      ok: false,
      name: "gateway /health",
      detail: `no answer from ${base}: ${describeError(err)}`,
      fix: "start the gateway (`deno task start`) or check the URL, port and firewall",
    });
    return;
  }
  const ws = health?.workflow_service as
    | { reachable?: boolean; mode?: string; url?: string; latency_ms?: number; error?: string }
    | undefined;
  report({
    ok: ws?.reachable === true,
    name: "workflow service health",
    detail: ws
      ? `${ws.mode} (${ws.url}): ${
        ws.reachable
          ? `reachable in ${ws.latency_ms} ms`
          : `unreachable${ws.error ? `: ${ws.error}` : ""}`
      }`
      : "not reported by /health",
    fix: ws?.mode === "external"
      ? "start the workflow service (`deno task workflow`) and check WORKFLOW_SERVICE_URL and WORKFLOW_SERVICE_TOKEN"
      : "the built-in service failed to load: run `deno task start` and read its log",
  });

  // Graphs: the run below needs one.
  let graph = config.DEFAULT_GRAPH;
  let prompt = "Book two nights for Ada Lovelace from 2026-05-01, standard room";
  try {
    const res = await fetchWithin(`${base}/agui/graphs`, { headers: auth }, 10_000);
    const body = await res.json().catch(() => null);
    const graphs = (body?.graphs ?? []) as Array<{ name: string; example_prompt?: string }>;
    const chosen = graphs.find((g) => g.name === graph) ?? graphs[0];
    if (chosen) {
      graph = chosen.name;
      if (chosen.example_prompt) prompt = chosen.example_prompt;
    }
    report({
      ok: res.status === 200 && graphs.length > 0,
      name: "graphs",
      detail: res.status === 200
        ? `${graphs.length} offered: ${graphs.map((g) => g.name).join(", ")}`
        : `${res.status} ${body?.error ?? ""} ${body?.message ?? ""}`.trim(),
      fix: res.status === 401
        ? "set GATEWAY_TOKEN in the environment to the deployment's token"
        : 'the workflow service must answer GET /graphs (README, "HTTP API")',
    });
  } catch (err) {
    report({
      ok: false,
      name: "graphs",
      detail: describeError(err),
      fix: "check the gateway's log",
    });
  }

  // /metrics.
  try {
    const res = await fetchWithin(`${base}/metrics`, { headers: auth }, 10_000);
    const text = await res.text();
    report({
      ok: res.status === 200 && text.includes("workflow_open_streams"),
      name: "metrics",
      detail: `${res.status}, ${
        text.split("\n").filter((l) => l && !l.startsWith("#")).length
      } samples`,
      fix: res.status === 401
        ? "set GATEWAY_TOKEN in the environment to the deployment's token"
        : "GET /metrics must answer Prometheus text",
    });
  } catch (err) {
    report({ ok: false, name: "metrics", detail: describeError(err), fix: "check the gateway" });
  }

  await checkRun(base, auth, graph, prompt, timeoutMs, report);
}
