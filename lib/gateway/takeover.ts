/**
 * Takeover: a run outlives the gateway process that relays it. When a running run's relay is
 * gone (its process's lease lapsed, or it stopped and released the lease), a live gateway claims
 * the run with a compare-and-set on its summary (exactly one claimer wins, across processes
 * sharing the KV), rejoins the workflow service after the last upstream id the log holds, and
 * pumps on; what the service replays and the log already holds is dropped by upstream id.
 *
 * Who notices: a gateway that starts and a periodic sweep of the running-runs index (so runs
 * complete when nobody watches), and a client resuming a run (through the lease watchdog).
 * A service that cannot rejoin (no endpoint, or it forgot the thread) ends the run with a
 * truthful `relay_lost`, and the thread is stopped there only with `ON_RELAY_LOST=abort`.
 * The rules are in docs/architecture.md ("Takeover").
 * @module
 */
import { ERROR_CODES, type RunSummary, type StoredEvent } from "../events.ts";
import type { Logger } from "../log.ts";
import { UnexpectedStateError } from "../runs/store.ts";
import { summaryPatch } from "../runs/summary.ts";
import type { Failure, Reconnected } from "./pump.ts";
import type { OnRelayLost, RelayParts } from "./relay_parts.ts";
import { UpstreamError } from "./upstream.ts";
import { sleep } from "../async.ts";

export type { OnRelayLost } from "./relay_parts.ts";

/** Where a pump starts reading a rejoined stream. */
export interface ResumePoint {
  /** The last upstream id the log holds (null: none); frames not after it are dropped. */
  afterId: string | null;
  /** The type of the last logged event (a stream that ends at a logged gate is a pause). */
  lastType: string | undefined;
  /**
   * The step whose decision the gateway logged last: the service's own `approval_resolved`
   * for it, replayed first, is dropped (the log holds the gateway's).
   */
  resumedStep?: string;
  /** The takeover's own claim of the relay (a decision claims it anew). */
  claim?: { owner: string; leaseUntil: number };
}

/** What a takeover needs from the gateway around it. */
export interface TakeoverDeps extends RelayParts {
  /** `ON_RELAY_LOST`. */
  onRelayLost: OnRelayLost;
  /** `RELAY_SWEEP_MS`: how often the running runs are looked at (0: never). */
  sweepMs: number;
  /** True while this process pumps (or is starting) the run. */
  relayedHere: (runId: string) => boolean;
  /** True while a start or a decision of the run is under way here (before its pump). */
  startingHere: (runId: string) => boolean;
  /** Hands a rejoined stream to a pump that starts at `from`. */
  launch: (
    runId: string,
    graph: string,
    body: ReadableStream<Uint8Array>,
    log: Logger,
    from: ResumePoint,
  ) => void;
  /** Ends the run with a gateway-made `workflow_error` (unless it already ended). */
  recordError: (runId: string, graph: string, log: Logger, failure: Failure) => Promise<void>;
  /** Longest time spent retrying a rejoin the service fails (ms; default 60 s). */
  rejoinForMs?: number;
}

/** First pause between rejoin attempts (ms); doubles up to {@link MAX_RETRY_MS}. */
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 2_000;

/** Finds relays that are gone and takes their runs over. */
export class Takeover {
  readonly #d: TakeoverDeps;
  #timer: ReturnType<typeof setInterval> | undefined;
  #unwatch: (() => void) | undefined;
  #sweeping: Promise<void> | undefined;
  /** Runs a takeover is being tried for here (one try at a time per run), and the tries. */
  readonly #trying = new Map<string, Promise<boolean>>();

  /** A takeover over the gateway's parts; nothing runs until {@link start} or a call. */
  constructor(deps: TakeoverDeps) {
    this.#d = deps;
  }

  /** Sweeps once now (a gateway that starts takes back what is orphaned), then periodically. */
  start(): void {
    if (this.#timer !== undefined || this.#d.sweepMs <= 0) return;
    this.sweep();
    this.#timer = setInterval(() => this.sweep(), this.#d.sweepMs);
    // A graceful stop elsewhere: sweep now rather than at the next tick (where watch reaches).
    this.#unwatch = this.#d.store.watchHandovers?.(() => void this.sweep());
  }

  /** Stops the sweep (shutdown); a sweep and takeovers under way finish (they see `closing`). */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#unwatch?.();
    this.#unwatch = undefined;
    await this.#sweeping;
    await Promise.allSettled([...this.#trying.values()]);
  }

  /**
   * One look for running runs whose relay is gone (one sweep at a time; a sweep still running
   * is not doubled): one read per owner of running runs and one lease read per other owner;
   * only the runs of an owner whose lease lapsed (or of none) are listed and tried.
   */
  sweep(): Promise<void> {
    if (this.#sweeping) return this.#sweeping;
    this.#sweeping = (async () => {
      try {
        const d = this.#d;
        const alive = new Map<string, Promise<number>>();
        for (const owner of await d.store.runningOwners()) {
          if (d.closing()) return;
          if (owner === d.lease.owner) continue;
          if (owner !== "") {
            const until = d.store.relayAliveUntil(owner);
            alive.set(owner, until);
            if ((await until) > d.now()) continue;
          }
          for await (const id of d.store.runningOf(owner)) {
            if (d.closing()) return;
            if (!d.relayedHere(id)) await this.tryTakeOver(id, "sweep", alive);
          }
        }
      } catch (err) {
        this.#d.logger.warn("takeover sweep failed", { error: err });
      }
    })().finally(() => {
      this.#sweeping = undefined;
    });
    return this.#sweeping;
  }

  /**
   * Takes run `runId` over when it is running and its relay's process is gone: claims it
   * (compare-and-set on the relay seen), rejoins the service and starts a pump. Returns true
   * when this process now relays the run. Never throws.
   */
  tryTakeOver(
    runId: string,
    reason: "sweep" | "client",
    alive = new Map<string, Promise<number>>(),
  ): Promise<boolean> {
    const d = this.#d;
    if (d.closing() || d.relayedHere(runId)) return Promise.resolve(false);
    const busy = this.#trying.get(runId);
    if (busy) return busy;
    const attempt = this.#takeOver(runId, reason, alive).finally(() => {
      this.#trying.delete(runId);
    });
    this.#trying.set(runId, attempt);
    return attempt;
  }

  async #takeOver(
    runId: string,
    reason: "sweep" | "client",
    alive: Map<string, Promise<number>>,
  ): Promise<boolean> {
    const d = this.#d;
    try {
      const run = await d.store.get(runId);
      if (!run || run.status !== "running") return false;
      const seen = run.relay;
      const owner = seen?.owner;
      // This process's own runs are relayed here or being started or decided here: a run of
      // ours without a pump is one of those in flight, never an orphan (a restarted gateway
      // has a new identity), and claiming it would race the decision's own relay.
      if (owner === d.lease.owner) return false;
      if (owner !== undefined) {
        let until = alive.get(owner);
        if (!until) alive.set(owner, until = d.store.relayAliveUntil(owner));
        if ((await until) > d.now()) return false;
      }
      if (d.relayedHere(runId)) return false;
      await d.lease.ensureAlive();
      let claimed: RunSummary;
      try {
        // The relay exactly as seen (owner and claim time): any claim since, a takeover or a
        // decision, anywhere, makes this one lose.
        claimed = await d.store.update(runId, { relay: d.lease.claim() }, {
          expect: (s) =>
            s.status === "running" && s.relay?.owner === owner &&
            s.relay?.leaseUntil === seen?.leaseUntil,
        });
      } catch (err) {
        if (err instanceof UnexpectedStateError) return false;
        throw err;
      }
      const done = d.starting(runId);
      try {
        const log = d.logger.child({ run_id: runId, graph: run.graph });
        const from = await this.resumePoint(claimed);
        if (claimed.relay) from.claim = claimed.relay;
        d.metrics.relayTakeovers.inc({ reason });
        log.info("run taken over", {
          from: owner ?? null,
          reason,
          after_upstream_id: from.afterId,
        });
        const r = await this.rejoin(runId, from.afterId, log);
        if ("failure" in r) {
          await this.#lost(runId, run.graph, log, r.failure);
          return false;
        }
        d.launch(runId, run.graph, r.body, log, from);
        return true;
      } finally {
        done();
      }
    } catch (err) {
      d.logger.warn("takeover failed", { run_id: runId, error: err });
      return false;
    }
  }

  /** Where the log stands: the last upstream id, the last event, a decision logged last. */
  async resumePoint(run: RunSummary): Promise<ResumePoint> {
    const last: StoredEvent | undefined = run.eventCount > 0
      ? (await this.#d.store.read(run.id, run.eventCount - 1, 1))[0]
      : undefined;
    const from: ResumePoint = { afterId: run.lastUpstreamId ?? null, lastType: last?.type };
    if (last?.type === "approval_resolved") {
      const step = (JSON.parse(last.data) as { stepId?: unknown }).stepId;
      if (typeof step === "string") from.resumedStep = step;
    }
    return from;
  }

  /**
   * The pump's reconnect for run `runId`: rejoins after the last id it holds. A service without
   * the endpoint keeps the cut as it was (`upstream_error` or `upstream_ended`, as before rejoin
   * existed); one that forgot the thread is a truthful `relay_lost`.
   */
  reconnect(
    runId: string,
    log: Logger,
  ): (afterId: string | null, cut: Failure) => Promise<Reconnected> {
    return async (afterId, cut) => {
      const r = await this.rejoin(runId, afterId, log, cut);
      if ("failure" in r && r.failure.code === ERROR_CODES.relayLost) {
        await this.#stopIfAsked(runId, log);
      }
      return r;
    };
  }

  /**
   * Rejoins the service after `afterId`, retrying with backoff while it fails (it may be
   * restarting) for at most `rejoinForMs`. `cut` is what broke the stream being replaced (none
   * for a takeover): a service without the endpoint, or one still failing at the end, gives it
   * back; a takeover gets `relay_lost` then. A thread the service forgot is always `relay_lost`.
   */
  async rejoin(
    runId: string,
    afterId: string | null,
    log: Logger,
    cut?: Failure,
  ): Promise<Reconnected> {
    const d = this.#d;
    const until = d.now() + (d.rejoinForMs ?? 60_000);
    let pause = FIRST_RETRY_MS;
    for (let attempt = 1;; attempt++) {
      try {
        const r = await d.upstream.rejoin(runId, afterId, d.signal);
        if (r.kind === "stream") {
          d.metrics.upstreamRejoins.inc({ outcome: "stream" });
          log.info("rejoined the workflow stream", { attempts: attempt, after: afterId });
          return { body: r.body };
        }
        d.metrics.upstreamRejoins.inc({ outcome: r.kind });
        if (r.kind === "unsupported" && cut) return { failure: cut };
        return { failure: lostFailure(r.reason, d.onRelayLost) };
      } catch (err) {
        if (d.signal.aborted || d.closing()) {
          return { failure: { code: ERROR_CODES.shutdown, message: "The gateway shut down" } };
        }
        const message = err instanceof Error ? err.message : String(err);
        if (d.now() + pause > until) {
          // The run log gets generic words; the cause is in this process's log above.
          const said = err instanceof UpstreamError ? err.publicMessage : "it failed";
          return {
            failure: cut ??
              lostFailure(`the workflow service stayed unavailable: ${said}`, d.onRelayLost),
          };
        }
        log.warn("rejoin failed; retrying", {
          attempt,
          code: err instanceof UpstreamError ? err.code : undefined,
          error: message,
        });
        await sleep(pause);
        pause = Math.min(MAX_RETRY_MS, pause * 2);
      }
    }
  }

  /**
   * After a takeover whose rejoin ended at the gate the log already held with nothing new: a
   * run still `running` had its decision claimed by a relay that died before the service got it
   * (the service still waits). The gate is opened again, and the decision that was accepted on
   * it (recorded with its claim) is returned, for the caller to send once more.
   */
  async reopenGate(
    runId: string,
    log: Logger,
    from: ResumePoint,
  ): Promise<RunSummary["decisionInFlight"]> {
    const d = this.#d;
    const claim = from.claim;
    // Only while the relay is still this takeover's claim: a decision that came meanwhile
    // claimed it anew (and its resume reached the service).
    const unchanged = (s: RunSummary) =>
      s.status === "running" && s.relay?.owner === claim?.owner &&
      s.relay?.leaseUntil === claim?.leaseUntil;
    try {
      const run = await d.store.get(runId);
      if (!run || !claim || !unchanged(run) || d.startingHere(runId)) return;
      const [last] = run.eventCount > 0 ? await d.store.read(runId, run.eventCount - 1, 1) : [];
      if (last?.type !== "approval_required") return;
      await d.store.update(runId, summaryPatch([last], d.now()), {
        expect: (s) => unchanged(s) && s.eventCount === run.eventCount,
      });
      log.info("approval gate opened again: its decision never reached the workflow service");
      const inFlight = run.decisionInFlight;
      return inFlight?.stepId === JSON.parse(last.data).stepId ? inFlight : undefined;
    } catch (err) {
      if (!(err instanceof UnexpectedStateError)) {
        log.warn("could not open the approval gate again", { error: err });
      }
    }
  }

  /** Records the truthful relay_lost and, with `ON_RELAY_LOST=abort`, stops the thread. */
  async #lost(runId: string, graph: string, log: Logger, failure: Failure): Promise<void> {
    const d = this.#d;
    if (failure.code === ERROR_CODES.shutdown) return;
    log.error("relay lost: the workflow service cannot replay the run", { ...failure });
    d.metrics.upstreamErrors.inc({ code: failure.code });
    await d.recordError(runId, graph, log, failure);
    if (failure.code === ERROR_CODES.relayLost) await this.#stopIfAsked(runId, log);
  }

  /** With `ON_RELAY_LOST=abort`, asks the service to stop a thread the gateway lost. */
  async #stopIfAsked(runId: string, log: Logger): Promise<void> {
    if (this.#d.onRelayLost !== "abort") return;
    await this.#d.upstream.abort(runId).catch((err) =>
      log.warn("could not stop the workflow upstream", { error: err })
    );
  }
}

/** The truthful `relay_lost`: what is known, and nothing more. */
export function lostFailure(reason: string, onRelayLost: OnRelayLost): Failure {
  return {
    code: ERROR_CODES.relayLost,
    message: "The gateway lost this run's event stream and cannot replay it from the workflow " +
      `service (${reason}). ` +
      (onRelayLost === "abort"
        ? "The workflow was asked to stop at the service."
        : "The workflow may still be running at the service."),
  };
}
