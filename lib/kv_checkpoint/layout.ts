/**
 * What the checkpoint saver writes, under its prefix (default `["lg_ckpt"]`):
 * - `["cp", thread, ns, checkpointId]`: the checkpoint record (checkpoint without its channel
 *   values, metadata, parent id, and where each channel's value is stored);
 * - `["ch", thread, ns, checkpointId, channel]`: a channel value, written by the checkpoint that
 *   changed it (`newVersions`); later checkpoints point at it instead of copying it;
 * - `["w", thread, ns, checkpointId, taskId, idx]`: a pending write;
 * - `["part", thread, blob, i]`: part `i` of a value too big to sit inline in its record.
 * @module
 */
import type { StoredValue } from "./kv_values.ts";

/** Where a channel's value is: the checkpoint that stored it and that key's deadline (0: none). */
export type Source = [checkpointId: string, deadline: number];

/** A checkpoint record. */
export interface CheckpointRecord {
  /** The checkpoint, `channel_values` left out. */
  cp: StoredValue;
  /** The checkpoint's metadata. */
  md: StoredValue;
  /** The parent checkpoint's id. */
  parent?: string;
  /** Where each channel's value is. */
  src: Record<string, Source>;
}

/** A pending-write record. */
export interface WriteRecord {
  /** The channel written. */
  c: string;
  /** The task's path (`writesSortKey` orders by it). */
  path: string;
  /** The value written. */
  v: StoredValue;
}
