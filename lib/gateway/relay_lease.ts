/**
 * The relay lease: one per gateway process (not per run), written before the first run names
 * this process as its relay and renewed every third of its length; a run's `relay.owner` points
 * at it. A running run whose owner's lease lapsed has lost its relay (the process died, was
 * evicted, or stopped and released it): the watchdog, one timer for all watched runs however many
 * runs and viewers, hands such a run to the takeover (`takeover.ts`), which claims it and rejoins the
 * workflow service. The rules are in docs/architecture.md ("Leases", "Takeover").
 * @module
 */
import type { RunSummary } from "../events.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { RunStore } from "../runs/store.ts";

/** What the lease needs from the gateway around it. */
export interface RelayLeaseDeps {
  /** Where the lease and run summaries live. */
  store: RunStore;
  /** The process's metrics; the lease itself records none. */
  metrics: Metrics;
  /** Where failed renewals and relay checks are logged. */
  logger: Logger;
  /** How long the lease lasts without renewal (ms). */
  leaseMs: number;
  /** The clock, ms since epoch. */
  now: () => number;
  /** This process's identity in run summaries. */
  owner: string;
  /** True while this process pumps (or is starting) the run. */
  relayedHere: (runId: string) => boolean;
  /** Takes a run whose relay is gone over (claim, rejoin, pump); never throws. */
  takeOver: (runId: string) => Promise<unknown>;
}

/** The process's relay lease and the relay-lost watchdog. */
export class RelayLease {
  readonly #d: RelayLeaseDeps;
  /** The lease's first write, and the renewal timer. */
  #alive?: { first: Promise<void>; timer: ReturnType<typeof setInterval> };
  /** Watched runs and how many watchers each has. */
  readonly #watched = new Map<string, number>();
  /** The one watchdog timer, running while any run is watched. */
  #watchdog: ReturnType<typeof setInterval> | undefined;
  #released = false;

  /** A lease over `deps`; nothing is written until {@link RelayLease.ensureAlive}. */
  constructor(deps: RelayLeaseDeps) {
    this.#d = deps;
  }

  /** This process's identity. */
  get owner(): string {
    return this.#d.owner;
  }

  /** The `relay` field of a run this process relays from now on. */
  claim(): { owner: string; leaseUntil: number } {
    return { owner: this.#d.owner, leaseUntil: this.#d.now() + this.#d.leaseMs };
  }

  /** Writes the lease now (once) and renews it every third of its length from then on. */
  ensureAlive(): Promise<void> {
    if (this.#alive) return this.#alive.first;
    const { store, owner, leaseMs, now, logger } = this.#d;
    const renew = () => store.setRelayAlive(owner, now() + leaseMs);
    const first = renew();
    const timer = setInterval(() => {
      renew().catch((err) => logger.warn("relay lease renewal failed", { error: err }));
    }, Math.max(50, Math.floor(leaseMs / 3)));
    this.#alive = { first, timer };
    first.catch(() => {
      // A failed first write: try again on the next call rather than trusting a lease never set.
      if (this.#alive?.first === first) {
        clearInterval(timer);
        this.#alive = undefined;
      }
    });
    return first;
  }

  /**
   * Gives the lease up (shutdown): renewals stop and the lease reads as expired, so a client
   * resuming on another instance learns at once that this relay is gone.
   */
  async release(): Promise<void> {
    this.#released = true;
    if (!this.#alive) return;
    clearInterval(this.#alive.timer);
    await this.#alive.first.catch(() => {});
    await this.#d.store.setRelayAlive(this.#d.owner, 0).catch(() => {});
  }

  /** True when another process that is still alive relays `run`. */
  async relayedElsewhere(run: RunSummary): Promise<boolean> {
    const owner = run.relay?.owner;
    if (owner === undefined || owner === this.#d.owner) return false;
    return (await this.#d.store.relayAliveUntil(owner)) > this.#d.now();
  }

  /**
   * Checks a watched run's relay every half lease while anyone watches it (the caller checks it
   * once at once): one check per run however many subscribers (thousands of viewers must not
   * mean thousands of KV reads), and one timer for every watched run, so an idle stream holds
   * no timer of its own; a run relayed by this process costs no read at all. Each call must be
   * matched by one {@link unwatch}.
   */
  watch(runId: string): void {
    this.#watched.set(runId, (this.#watched.get(runId) ?? 0) + 1);
    this.#watchdog ??= setInterval(
      () => this.#checkWatched(),
      Math.max(50, this.#d.leaseMs / 2),
    );
  }

  /** Ends one {@link watch} of `runId`; the timer stops with the last watched run. */
  unwatch(runId: string): void {
    const n = this.#watched.get(runId);
    if (n === undefined) return;
    if (n > 1) this.#watched.set(runId, n - 1);
    else this.#watched.delete(runId);
    if (this.#watched.size === 0 && this.#watchdog !== undefined) {
      clearInterval(this.#watchdog);
      this.#watchdog = undefined;
    }
  }

  /** Runs being watched now (tests). */
  get watchedRuns(): number {
    return this.#watched.size;
  }

  #checkWatched(): void {
    for (const runId of this.#watched.keys()) {
      if (!this.#released && !this.#d.relayedHere(runId)) void this.check(runId);
    }
  }

  /**
   * Hands a running run that no process relays any more (neither a pump or a start here, nor a
   * live process elsewhere: its lease lapsed or was released) to the takeover.
   */
  async check(runId: string): Promise<void> {
    const { store, relayedHere, logger } = this.#d;
    if (this.#released || relayedHere(runId)) return;
    try {
      const run = await store.get(runId);
      if (!run || run.status !== "running") return;
      if (await this.relayedElsewhere(run)) return;
      if (relayedHere(runId)) return;
      // Not awaited: a takeover may retry a failing service for a while, and the client that
      // asked subscribes to the log meanwhile (the new relay's events reach it there).
      void this.#d.takeOver(runId);
    } catch (err) {
      logger.warn("relay check failed", { run_id: runId, error: err });
    }
  }
}
