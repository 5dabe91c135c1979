/**
 * What a live tail (`LiveTail`, live_tail.ts) reads from the storage: a run's head and
 * its events after a seq. Apart from the tail itself, so the storage and the tail's cursor both
 * name them without importing the tail.
 * @module
 */
import type { StoredEvent } from "../events.ts";

/** A run's head: the last seq written and whether that event ended the run. */
export interface HeadState {
  /** The last seq (0 before the first event). */
  seq: number;
  /** True once the run's terminal event is written. */
  done: boolean;
}

/** What a `LiveTail` needs from the storage. */
export interface TailSource {
  /** The run's current head, or null when the run does not exist. */
  readHead(id: string): Promise<HeadState | null>;
  /**
   * Events with seq > `afterSeq`, ascending, at most `limit`; `untilSeq` is the head the tail
   * has seen (the events it reads toward).
   */
  read(id: string, afterSeq: number, limit: number, untilSeq: number): Promise<StoredEvent[]>;
  /**
   * Called when a run gets its first subscriber in this process: start following the run's
   * head for writes from elsewhere (feeding `LiveTail.advance`). Returns the stopper,
   * called when the last subscriber leaves.
   */
  open?(id: string): () => Promise<void>;
}
