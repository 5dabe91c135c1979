/**
 * A token-bucket rate limiter keyed by client (IP address). Memory stays bounded: idle buckets
 * are full again after `capacity / refillPerMs`, so they are swept once they would be.
 * @module
 */

/** A per-key token bucket: `capacity` requests at once, refilled at `perMinute`. */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #capacity: number;
  readonly #refillPerMs: number;
  readonly #now: () => number;
  #sweptAt = 0;

  /** `perMinute` 0 disables limiting. */
  constructor(perMinute: number, opts: { burst?: number; now?: () => number } = {}) {
    this.#capacity = opts.burst ?? Math.max(1, Math.ceil(perMinute / 6));
    this.#refillPerMs = perMinute / 60_000;
    this.#now = opts.now ?? Date.now;
  }

  /**
   * Takes one token for `key`. Returns 0 when allowed, otherwise the seconds to wait
   * (for `Retry-After`).
   */
  take(key: string): number {
    if (this.#refillPerMs === 0) return 0;
    const now = this.#now();
    this.#sweep(now);
    const b = this.#buckets.get(key) ?? { tokens: this.#capacity, at: now };
    b.tokens = Math.min(this.#capacity, b.tokens + (now - b.at) * this.#refillPerMs);
    b.at = now;
    this.#buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.#refillPerMs / 1000));
  }

  /** Buckets held now (tests of the sweep). */
  get size(): number {
    return this.#buckets.size;
  }

  #sweep(now: number): void {
    const fullAfter = this.#capacity / this.#refillPerMs;
    if (now - this.#sweptAt < fullAfter) return;
    this.#sweptAt = now;
    for (const [k, b] of this.#buckets) if (now - b.at >= fullAfter) this.#buckets.delete(k);
  }
}
