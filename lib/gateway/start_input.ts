/**
 * What a start request becomes: the summary a new run starts with, and the digest of its input.
 *
 * A run id chosen by the client works as an idempotency key: the same start sent again attaches
 * to the run it made, but the same id with another input is another request, refused with 409
 * `run_conflict` naming what differs (as payment APIs do), instead of handing the second caller
 * the first one's run and approval request. The run's summary keeps a digest of its input
 * (SHA-256 of canonical JSON, the prompt apart so a conflict can name it), never the input.
 * @module
 */
import type { RunSummary } from "../events.ts";
import { sha256Hex as sha256 } from "../sha256.ts";
import { GatewayError } from "./errors.ts";

/** Input of `Gateway.start`. */
export interface StartInput {
  /** The client's run id (an idempotency key); a new one when absent. */
  runId?: string;
  /** The workflow to run. */
  graph: string;
  /** The workflow's input, as the client sent it. */
  initialState: Record<string, unknown>;
  /** The dialect the run was started in. */
  dialect: RunSummary["dialect"];
  /** AG-UI runs: the conversation the run belongs to. */
  threadId?: string;
}

/** What a run's summary keeps of its start input. */
export type InputDigest = NonNullable<RunSummary["inputDigest"]>;

/** JSON with object keys sorted at every level, so equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.keys(value).sort().flatMap((k) => {
      const v = (value as Record<string, unknown>)[k];
      return v === undefined ? [] : [`${JSON.stringify(k)}:${canonicalJson(v)}`];
    });
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** The digest of a start's `initial_state`: the prompt, and everything else. */
export function digestStartInput(initialState: Record<string, unknown>): InputDigest {
  const { prompt, ...rest } = initialState;
  return {
    state: sha256(canonicalJson(rest)),
    ...(prompt !== undefined ? { prompt: sha256(canonicalJson(prompt)) } : {}),
  };
}

/**
 * Refuses an attach whose input is not the run's: `graph` (undefined: none named, no claim) and
 * `initialState`. A run recorded before digests were kept is compared by graph alone.
 * @throws {GatewayError} `run_conflict` with `details.differs` (`graph`, `prompt`,
 *   `initial_state`).
 */
export function checkSameStart(
  run: Pick<RunSummary, "id" | "graph" | "inputDigest">,
  graph: string | undefined,
  initialState: Record<string, unknown>,
): Promise<void> {
  try {
    sameStartOrThrow(run, graph, initialState);
    return Promise.resolve();
  } catch (err) {
    return Promise.reject(err);
  }
}

function sameStartOrThrow(
  run: Pick<RunSummary, "id" | "graph" | "inputDigest">,
  graph: string | undefined,
  initialState: Record<string, unknown>,
): void {
  const differs: string[] = [];
  if (graph !== undefined && graph !== run.graph) differs.push("graph");
  if (run.inputDigest) {
    const given = digestStartInput(initialState);
    if (given.prompt !== run.inputDigest.prompt) differs.push("prompt");
    if (given.state !== run.inputDigest.state) differs.push("initial_state");
  }
  if (differs.length === 0) return;
  throw new GatewayError(
    `Run ${run.id} already exists with another ${differs.join(", ")}; ` +
      "a run id can be reused only with the same input",
    {
      type: "run_conflict",
      runId: run.id,
      details: { differs, ...(differs.includes("graph") ? { graph: run.graph } : {}) },
    },
  );
}

/**
 * The summary a new run starts with: running, no events yet, relayed by `relay`. It keeps the
 * first 200 characters of a string prompt (for listings) and `inputDigest`, never the input.
 */
export function newRunSummary(
  input: StartInput,
  runId: string,
  now: number,
  inputDigest: InputDigest,
  relay: RunSummary["relay"],
): RunSummary {
  const at = new Date(now).toISOString();
  const prompt = typeof input.initialState.prompt === "string"
    ? input.initialState.prompt.slice(0, 200)
    : undefined;
  return {
    id: runId,
    graph: input.graph,
    dialect: input.dialect,
    ...(input.threadId !== undefined ? { threadId: input.threadId } : {}),
    status: "running",
    createdAt: at,
    updatedAt: at,
    eventCount: 0,
    ...(prompt !== undefined ? { prompt } : {}),
    inputDigest,
    relay,
  };
}
