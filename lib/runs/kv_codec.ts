/**
 * The run log's layout in Deno KV: keys, stored values, and how events are sized, split into
 * parts and grouped into atomic writes that stay inside Deno KV's limits.
 *
 * Limits (Deno 2.9, checked on this machine; Deno Deploy has the same): a value ≤ 65,536 bytes;
 * per atomic operation ≤ 1,000 mutations, ≤ 819,200 bytes of keys and values, ≤ 81,920 bytes of
 * keys; a key ≤ 2,048 bytes.
 * @module
 */
import type { RunSummary } from "../events.ts";
import { EventTooLargeError } from "./errors.ts";
import type { NewEvent } from "./store.ts";

/** Largest value Deno KV stores. */
export const MAX_VALUE_BYTES = 65_536;
/** Size of one part of a split event (a little under a value's limit). */
export const PART_BYTES = 63 * 1024;
/**
 * Largest event data accepted, in UTF-8 bytes: with its parts' keys, the head and a summary of
 * the largest possible size it still fits one atomic operation.
 */
export const MAX_EVENT_BYTES = 640 * 1024;
/** Longest event type accepted (SSE event names are short; this only bounds the header). */
export const MAX_TYPE_CHARS = 1024;

const MAX_OP_BYTES = 819_200;
const MAX_OP_MUTATIONS = 1_000;
const MAX_OP_KEY_BYTES = 81_920;
/** Room kept in every atomic append for the head and the summary (which is ≤ one value). */
const RESERVED_BYTES = MAX_VALUE_BYTES + 8_192;
/** Event bytes (keys and values) one atomic append may carry. */
export const OP_EVENT_BYTES = MAX_OP_BYTES - RESERVED_BYTES;
/** Event mutations one atomic append may carry (the head and the summary take two more). */
export const OP_EVENT_MUTATIONS = MAX_OP_MUTATIONS - 8;
/** Event key bytes one atomic append may carry. */
export const OP_EVENT_KEY_BYTES = MAX_OP_KEY_BYTES - 8_192;
/** Per-mutation slack in the size estimates (encoding overheads). */
const SLACK = 16;

/** Added to `-createdAt` so the run index sorts newest first. */
const INDEX_BASE = 9_000_000_000_000_000;

/** The keys of the run log. */
export const keys = {
  /** A run's summary record. */
  run: (id: string): Deno.KvKey => ["runs", id],
  /** A run's head (last seq); watched by subscribers, written only by appends. */
  head: (id: string): Deno.KvKey => ["head", id],
  /** One event (or the header of a split event). */
  event: (id: string, seq: number): Deno.KvKey => ["events", id, seq],
  /** All events of a run. */
  events: (id: string): Deno.KvKey => ["events", id],
  /** Part `i` of a split event's data. */
  part: (id: string, seq: number, i: number): Deno.KvKey => ["event_parts", id, seq, i],
  /** All parts of one split event. */
  parts: (id: string, seq: number): Deno.KvKey => ["event_parts", id, seq],
  /** All parts of a run. */
  runParts: (id: string): Deno.KvKey => ["event_parts", id],
  /** The run list index entry: newest first, then by id. */
  index: (createdMs: number, id: string): Deno.KvKey => ["runs_by_time", indexTime(createdMs), id],
  /** The whole run list index. */
  indexAll: ["runs_by_time"] as Deno.KvKey,
  /**
   * A writer process's append clock, rewritten by each of its appends: a poller learns from
   * these few keys whether any other process appended since its last look.
   */
  clock: (instance: string): Deno.KvKey => ["log_clock", instance],
  /** All append clocks. */
  clocks: ["log_clock"] as Deno.KvKey,
};

/** The index's sort number for a creation time (ms). */
export function indexTime(createdMs: number): number {
  return INDEX_BASE - createdMs;
}

/** The head value. `exp` is the run's expiry deadline (ms), fixed when the run is created. */
export interface HeadValue {
  seq: number;
  done: boolean;
  exp: number;
}

/** The summary value: the summary and the run's expiry deadline (ms). */
export interface RunRecord {
  summary: RunSummary;
  exp: number;
}

/** An event stored whole. */
export interface InlineEventValue {
  t: string;
  d: string;
}

/** The header of an event whose data is split into `parts` parts holding `bytes` UTF-8 bytes. */
export interface SplitEventValue {
  t: string;
  parts: number;
  bytes: number;
}

/** What `["events", id, seq]` holds. */
export type EventValue = InlineEventValue | SplitEventValue;

/** An event ready to write: its value, its parts (if split) and its cost in an atomic op. */
export interface EncodedEvent {
  type: string;
  data: string;
  value: EventValue;
  parts: Uint8Array[];
  /** Estimated bytes of keys and values. */
  bytes: number;
  /** Mutations (1 + parts). */
  mutations: number;
  /** Key bytes. */
  keyBytes: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Bytes of an id inside an encoded key (UTF-8, NUL escaped, framing). */
export function idKeyBytes(id: string): number {
  let nul = 0;
  for (let i = id.indexOf("\0"); i >= 0; i = id.indexOf("\0", i + 1)) nul++;
  return encoder.encode(id).length + nul + 2;
}

/**
 * Prepares one event. Small data stays a string in the event value (a V8-serialized string
 * takes at most 2 bytes per UTF-16 unit); bigger data is stored as UTF-8 parts so its size is
 * exact.
 * @throws {EventTooLargeError} when it cannot fit one atomic write.
 */
export function encodeEvent(runId: string, idBytes: number, ev: NewEvent): EncodedEvent {
  const { type, data } = ev;
  const eventKeyBytes = 19 + idBytes;
  const chars = type.length + data.length;
  if (type.length > MAX_TYPE_CHARS) {
    throw new EventTooLargeError(runId, type, encoder.encode(type).length, MAX_TYPE_CHARS);
  }
  if (chars * 2 + 64 <= MAX_VALUE_BYTES) {
    return {
      type,
      data,
      value: { t: type, d: data },
      parts: [],
      bytes: eventKeyBytes + chars * 2 + 64 + SLACK,
      mutations: 1,
      keyBytes: eventKeyBytes,
    };
  }
  const body = encoder.encode(data);
  if (body.length > MAX_EVENT_BYTES) {
    throw new EventTooLargeError(
      runId,
      type,
      body.length + encoder.encode(type).length,
      MAX_EVENT_BYTES,
    );
  }
  const parts: Uint8Array[] = [];
  for (let at = 0; at < body.length; at += PART_BYTES) {
    parts.push(body.subarray(at, Math.min(at + PART_BYTES, body.length)));
  }
  const partKeyBytes = 33 + idBytes;
  return {
    type,
    data,
    value: { t: type, parts: parts.length, bytes: body.length },
    parts,
    bytes: eventKeyBytes + type.length * 2 + 96 + body.length +
      parts.length * (partKeyBytes + SLACK) + SLACK,
    mutations: 1 + parts.length,
    keyBytes: eventKeyBytes + parts.length * partKeyBytes,
  };
}

/**
 * Groups events into consecutive atomic writes inside the limits; returns `[start, end)` index
 * ranges. Every event fits one write on its own ({@link encodeEvent} guarantees it).
 */
export function planWrites(events: readonly EncodedEvent[]): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  let start = 0;
  let bytes = 0;
  let mutations = 0;
  let keyBytes = 0;
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    if (
      i > start && (
        bytes + e.bytes > OP_EVENT_BYTES ||
        mutations + e.mutations > OP_EVENT_MUTATIONS ||
        keyBytes + e.keyBytes > OP_EVENT_KEY_BYTES
      )
    ) {
      ranges.push([start, i]);
      start = i;
      bytes = mutations = keyBytes = 0;
    }
    bytes += e.bytes;
    mutations += e.mutations;
    keyBytes += e.keyBytes;
  }
  if (start < events.length) ranges.push([start, events.length]);
  return ranges;
}

/** True when the event value holds its data whole. */
export function isInline(value: EventValue): value is InlineEventValue {
  return "d" in value;
}

/** Reassembles a split event's data; throws when parts are missing (never returns a torn event). */
export function joinParts(
  runId: string,
  seq: number,
  value: SplitEventValue,
  chunks: Uint8Array[],
): string {
  let total = 0;
  for (const c of chunks) total += c.length;
  if (chunks.length !== value.parts || total !== value.bytes) {
    throw new Error(
      `Run ${runId}: event ${seq} is incomplete (${chunks.length}/${value.parts} parts, ` +
        `${total}/${value.bytes} bytes); the run has probably expired`,
    );
  }
  const body = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.length;
  }
  return decoder.decode(body);
}

/** A list cursor: the index position of the last run scanned. */
export function encodeCursor(time: number, id: string): string {
  const bytes = encoder.encode(JSON.stringify([time, id]));
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");
}

/** Reads a cursor made by {@link encodeCursor}; null when it is not one. */
export function decodeCursor(cursor: string): [number, string] | null {
  try {
    const b64 = cursor.replaceAll("-", "+").replaceAll("_", "/");
    const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    const value = JSON.parse(decoder.decode(bytes));
    if (
      Array.isArray(value) && value.length === 2 && Number.isFinite(value[0]) &&
      typeof value[1] === "string"
    ) return [value[0], value[1]];
  } catch {
    // fall through: not a cursor of ours
  }
  return null;
}
