/**
 * The shared state an AG-UI client sees for one run (STATE_SNAPSHOT / STATE_DELTA), and a small
 * recorder that changes it and writes down the RFC 6902 operations of every change. The state is
 * only ever changed through the recorder, so the operations are correct against the snapshot the
 * client holds by construction, not by diffing.
 * @module
 */
import type { RunStatus } from "../../event_names.ts";

/** One step of the run, keyed by its name in {@link AguiRunState.steps}. */
export interface AguiStepState {
  /** `running` from `step_started`, `done` from `step_completed`. */
  status: "running" | "done";
  /** The step's result, once done (omitted when the upstream gave none). */
  result?: unknown;
}

/** An artifact the run produced, keyed by its name in {@link AguiRunState.artifacts}. */
export interface AguiArtifactState {
  /** Its MIME type (`application/octet-stream` when the event named none). */
  mime: string;
  /** Its content, as the event carried it. */
  content?: unknown;
}

/** The approval the run is waiting for. */
export interface AguiPendingApproval {
  /** The AG-UI interrupt id to resume with (see `encodeInterruptId`). */
  interruptId: string;
  /** The step that waits. */
  stepId: string;
  /** The gate's question to the user. */
  message: string;
  /** The decisions offered, when the event listed them. */
  options?: string[];
}

/** A decision taken on an approval gate, keyed by step id in {@link AguiRunState.approvals}. */
export interface AguiApprovalState {
  /** What was decided. */
  decision: "approve" | "reject";
  /** The decider's comment, if any. */
  comment?: string;
}

/** The whole AG-UI state of a run. Never holds `null` (optional members are left out). */
export interface AguiRunState {
  /** The gateway's run id (the log key), once `workflow_initialized` named it. */
  runId?: string;
  /** The graph, once `workflow_initialized` named it. */
  graph?: string;
  /** The run's status, by the shared event → status reducer. */
  status: RunStatus;
  /** Steps by name (see {@link stateKey}). */
  steps: Record<string, AguiStepState>;
  /** Artifacts by name. */
  artifacts: Record<string, AguiArtifactState>;
  /** Decisions taken, by step id. */
  approvals: Record<string, AguiApprovalState>;
  /** The gate the run waits on, if it waits. */
  pendingApproval?: AguiPendingApproval;
  /** `workflow_complete.result`. */
  result?: unknown;
  /** `workflow_error`'s code and message. */
  error?: { code: string; message: string };
}

/** One RFC 6902 operation, as far as this module emits them. */
export type JsonPatchOp =
  | { op: "add"; path: string; value: unknown }
  | { op: "remove"; path: string };

/** A fresh state: running, nothing known yet. */
export function initialAguiState(): AguiRunState {
  return { status: "running", steps: {}, artifacts: {}, approvals: {} };
}

/** Escapes one reference token of a JSON Pointer (RFC 6901: `~` → `~0`, `/` → `~1`). */
export function escapePointerToken(token: string): string {
  return token.replaceAll("~", "~0").replaceAll("/", "~1");
}

/** The JSON Pointer of `tokens` (`[]` is the whole document, `""`). */
export function jsonPointer(tokens: readonly string[]): string {
  let out = "";
  for (const t of tokens) out += "/" + escapePointerToken(t);
  return out;
}

/**
 * A copy of a JSON value without any `null`: null members are left out and null array items
 * dropped; a top-level `null` becomes `undefined` (absent). Both AG-UI clients reject `null` in
 * optional fields, and one rule for all upstream data keeps every emitted event clean.
 * Objects are rebuilt with `Object.fromEntries` so a `__proto__` key stays an own property.
 */
export function withoutNulls(value: unknown): unknown {
  if (value === null || value === undefined) return undefined;
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const item of value) {
      const v = withoutNulls(item);
      if (v !== undefined) out.push(v);
    }
    return out;
  }
  if (typeof value === "object") {
    const entries: [string, unknown][] = [];
    for (const [k, item] of Object.entries(value as Record<string, unknown>)) {
      const v = withoutNulls(item);
      if (v !== undefined) entries.push([k, v]);
    }
    return Object.fromEntries(entries);
  }
  // Non-JSON leftovers (functions, bigint) cannot come out of JSON.parse; numbers that are not
  // finite cannot either. Anything else is a JSON scalar.
  return value;
}

/**
 * The state key a step, artifact or approval named `name` is stored under. Clients apply deltas
 * with fast-json-patch, which refuses paths through `__proto__` (its prototype-pollution guard),
 * so that one name is renamed rather than have the client reject the whole delta.
 */
export function stateKey(name: string): string {
  return name === "__proto__" ? "_proto_" : name;
}

function defineOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/**
 * Changes a state and records the operations. `set` is RFC 6902 `add` (which also replaces an
 * existing member); `remove` records nothing when the member is absent, since removing a missing
 * member is an error for the client's applier.
 */
export class StateRecorder {
  #ops: JsonPatchOp[] = [];
  /** A recorder of changes to `state` (changed in place). */
  constructor(readonly state: AguiRunState) {}

  /** Sets the member at `tokens` (its parent must exist) to a private copy of `value`. */
  set(tokens: readonly string[], value: unknown): void {
    const clean = withoutNulls(value);
    if (clean === undefined) {
      this.remove(tokens);
      return;
    }
    const parent = this.#parent(tokens);
    defineOwn(parent, tokens[tokens.length - 1], clean);
    this.#ops.push({ op: "add", path: jsonPointer(tokens), value: structuredClone(clean) });
  }

  /** Removes the member at `tokens` when it exists. */
  remove(tokens: readonly string[]): void {
    const parent = this.#parent(tokens);
    const key = tokens[tokens.length - 1];
    if (!Object.hasOwn(parent, key)) return;
    delete parent[key];
    this.#ops.push({ op: "remove", path: jsonPointer(tokens) });
  }

  /** The operations recorded since the last call, and forgets them. */
  take(): JsonPatchOp[] {
    const ops = this.#ops;
    this.#ops = [];
    return ops;
  }

  #parent(tokens: readonly string[]): Record<string, unknown> {
    if (tokens.length === 0) throw new TypeError("cannot replace the whole state");
    let node: unknown = this.state;
    for (const t of tokens.slice(0, -1)) {
      node = Object.hasOwn(node as object, t) ? (node as Record<string, unknown>)[t] : undefined;
      if (typeof node !== "object" || node === null) {
        throw new TypeError(`state path ${jsonPointer(tokens)} has no parent`);
      }
    }
    return node as Record<string, unknown>;
  }
}
