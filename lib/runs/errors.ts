/**
 * Typed failures of the run log. Callers branch on the class (`instanceof`) or on `name`, never
 * on message text.
 * @module
 */
import type { RunSummary } from "../events.ts";

/** The run does not exist (never created, or expired after `RUN_TTL_HOURS`). */
export class RunNotFoundError extends Error {
  /** The run id asked for. */
  readonly runId: string;
  /** The run `runId` was not found; `detail` words why. */
  constructor(runId: string, detail = "no such run") {
    super(`Run ${runId}: ${detail}`);
    this.name = "RunNotFoundError";
    this.runId = runId;
  }
}

/**
 * The run already holds its terminal event, so nothing more may be appended: exactly one
 * terminal event closes every run, even when two processes race to write one. Also raised when a
 * batch puts events after a terminal event.
 */
export class RunClosedError extends Error {
  /** The run id. */
  readonly runId: string;
  /** The log of `runId` is closed; `detail` words why. */
  constructor(runId: string, detail = "the run already ended; its log is closed") {
    super(`Run ${runId}: ${detail}`);
    this.name = "RunClosedError";
    this.runId = runId;
  }
}

/**
 * One event is too big to be stored in one atomic write. Such an event is refused before
 * anything of its batch is written, never dropped silently.
 */
export class EventTooLargeError extends Error {
  /** The run id. */
  readonly runId: string;
  /** The event's type. */
  readonly type: string;
  /** The event's size in UTF-8 bytes (type and data). */
  readonly bytes: number;
  /** The largest size accepted, in UTF-8 bytes. */
  readonly limit: number;
  /** The event of `type` in `runId` is `bytes` long, over `limit` (UTF-8 bytes). */
  constructor(runId: string, type: string, bytes: number, limit: number) {
    super(
      `Run ${runId}: event "${type.slice(0, 64)}" is ${bytes} bytes, more than the ${limit} ` +
        "bytes one atomic run-log write can hold; it was not stored",
    );
    this.name = "EventTooLargeError";
    this.runId = runId;
    this.type = type;
    this.bytes = bytes;
    this.limit = limit;
  }
}

/** A conditional update found the run in another state than it expected (nothing was written). */
export class UnexpectedStateError extends Error {
  /** The run id. */
  readonly runId: string;
  /** The summary as it was found. */
  readonly current: RunSummary;
  /** The run was found as `current` instead of the expected state. */
  constructor(runId: string, current: RunSummary) {
    super(`Run ${runId}: its state changed (${current.status})`);
    this.name = "UnexpectedStateError";
    this.runId = runId;
    this.current = current;
  }
}

/** Other writers kept winning the version check; the write was given up after several tries. */
export class AppendConflictError extends Error {
  /** The run id. */
  readonly runId: string;
  /** How many times the write was tried. */
  readonly attempts: number;
  /** The write to `runId` was given up after `attempts` tries. */
  constructor(runId: string, attempts: number) {
    super(`Run ${runId}: gave up after ${attempts} conflicting concurrent writes`);
    this.name = "AppendConflictError";
    this.runId = runId;
    this.attempts = attempts;
  }
}

/**
 * An append made on behalf of a relay that no longer holds the run: another process took the
 * relay over (its lease had lapsed). Nothing was written; the old relay must stop.
 */
export class RelayFencedError extends Error {
  /** The run id. */
  readonly runId: string;
  /** Who holds the run's relay now (undefined: nobody). */
  readonly owner: string | undefined;
  /** The append to `runId` was refused because `owner` (or nobody) relays it now. */
  constructor(runId: string, owner: string | undefined) {
    super(`Run ${runId}: its relay was taken over (by ${owner ?? "nobody"})`);
    this.name = "RelayFencedError";
    this.runId = runId;
    this.owner = owner;
  }
}

/** A `list` cursor that this store did not issue. */
export class InvalidCursorError extends Error {
  /** A cursor that did not decode; `message` words why. */
  constructor(message = "invalid run list cursor") {
    super(message);
    this.name = "InvalidCursorError";
  }
}
