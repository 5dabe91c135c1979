/**
 * The run log's layout in Deno KV: keys, stored values, and how a batch of events is packed into
 * pages and grouped into atomic writes that stay inside Deno KV's limits.
 *
 * Why pages: a KV row costs ~20 µs of SQLite time however small it is (measured here: a commit of
 * 500 one-event rows took 10 ms; one of twelve 60 KB values 2.7 ms), and a relay at full speed
 * brings hundreds of events per upstream read. So consecutive events share one value, a page of
 * up to {@link PAGE_BYTES} of UTF-8 text, keyed by the seq of its last event: a read after seq
 * `n` starts at the first key ≥ `n + 1`, which is the page holding event `n + 1`.
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
/** Text a page of packed events may hold before a new page starts (UTF-8 bytes). */
export const PAGE_BYTES = 60 * 1024;
/** Size of one part of a big event (a little under a value's limit). */
export const PART_BYTES = 63 * 1024;
/**
 * Largest event data accepted, in UTF-8 bytes. A big event's parts go in writes of their own
 * before the write that commits it, so this bounds memory, not one atomic write; it is above
 * what the upstream frame parser lets through (8 Mi characters).
 */
export const MAX_EVENT_BYTES = 25 * 1024 * 1024;
/** Longest event type accepted (SSE event names are short; this only bounds the header). */
export const MAX_TYPE_CHARS = 1024;

const MAX_OP_BYTES = 819_200;
const MAX_OP_MUTATIONS = 1_000;
const MAX_OP_KEY_BYTES = 81_920;
/** Room kept in every atomic append for the head and the summary (which is ≤ one value). */
const RESERVED_BYTES = MAX_VALUE_BYTES + 8_192;
/** Page bytes (keys and values) one atomic append may carry. */
export const OP_EVENT_BYTES = MAX_OP_BYTES - RESERVED_BYTES;
/** Page mutations one atomic append may carry (the head and the summary take two more). */
export const OP_EVENT_MUTATIONS = MAX_OP_MUTATIONS - 8;
/** Page key bytes one atomic append may carry. */
export const OP_EVENT_KEY_BYTES = MAX_OP_KEY_BYTES - 8_192;
/** Per-mutation slack in the size estimates (encoding overheads). */
const SLACK = 16;
/** Parts of a big event written per atomic operation (each ≤ {@link PART_BYTES}). */
export const PARTS_PER_WRITE = 12;

/** Added to `-createdAt` so the run index sorts newest first. */
const INDEX_BASE = 9_000_000_000_000_000;

/** The keys of the run log. */
export const keys = {
  /** A run's summary record. */
  run: (id: string): Deno.KvKey => ["runs", id],
  /** A run's head (last seq, relay lease); watched by subscribers. */
  head: (id: string): Deno.KvKey => ["head", id],
  /** The page of events whose last event has seq `lastSeq`. */
  page: (id: string, lastSeq: number): Deno.KvKey => ["ev", id, lastSeq],
  /** All pages of a run. */
  pages: (id: string): Deno.KvKey => ["ev", id],
  /** Part `i` of big event data `blob`. */
  part: (id: string, blob: string, i: number): Deno.KvKey => ["ev_blob", id, blob, i],
  /** All parts of one big event. */
  blob: (id: string, blob: string): Deno.KvKey => ["ev_blob", id, blob],
  /** All big-event parts of a run. */
  blobs: (id: string): Deno.KvKey => ["ev_blob", id],
  /** The run list index entry: newest first, then by id. */
  index: (createdMs: number, id: string): Deno.KvKey => ["runs_by_time", indexTime(createdMs), id],
  /** The whole run list index. */
  indexAll: ["runs_by_time"] as Deno.KvKey,
  /** A run's entry in its AG-UI thread's index: newest first, then by id. */
  threadIndex: (threadId: string, createdMs: number, id: string): Deno.KvKey => [
    "runs_by_thread",
    threadId,
    indexTime(createdMs),
    id,
  ],
  /** One thread's whole index. */
  threadIndexAll: (threadId: string): Deno.KvKey => ["runs_by_thread", threadId],
  /**
   * A writer process's append clock, rewritten by each of its appends: a poller learns from
   * these few keys whether any other process appended since its last look.
   */
  clock: (instance: string): Deno.KvKey => ["log_clock", instance],
  /** All append clocks. */
  clocks: ["log_clock"] as Deno.KvKey,
  /**
   * The index of runs whose status is `running`, by the process that relays each (`""`: none):
   * a takeover sweep reads one key per owner and lists only the runs of owners that are gone.
   */
  runningBy: (owner: string, id: string): Deno.KvKey => ["runs_running_by", owner, id],
  /** One owner's running runs. */
  runningOf: (owner: string): Deno.KvKey => ["runs_running_by", owner],
  /** The whole running index. */
  runningByAll: ["runs_running_by"] as Deno.KvKey,
  /**
   * The running index as gateways before the owner-keyed one wrote it (value: the owner): still
   * read while a rolling deploy has both, and deleted by each index write of its run.
   */
  runningOld: (id: string): Deno.KvKey => ["runs_running", id],
  /** The whole older running index. */
  runningOldAll: ["runs_running"] as Deno.KvKey,
  /** Rewritten by every graceful stop of a gateway: others watch it to take over at once. */
  handover: ["relay_handover"] as Deno.KvKey,
  /** Until when a gateway process relays its runs (its liveness lease). */
  alive: (owner: string): Deno.KvKey => ["relay_alive", owner],
};

/** The index's sort number for a creation time (ms). */
export function indexTime(createdMs: number): number {
  return INDEX_BASE - createdMs;
}

/**
 * The head value: the last seq, whether it ended the run, the run's expiry deadline (ms, fixed
 * at creation), when the log last moved (ms), and the relay's lease. Every append rewrites it
 * anyway, so the lease renews with no write of its own while events flow.
 */
export interface HeadValue {
  /** The last sequence number written (0 before any event). */
  seq: number;
  /** True once the run's terminal event is logged. */
  done: boolean;
  /** The run's expiry deadline, ms since epoch, fixed at creation. */
  exp: number;
  /** When the last append or lease renewal happened (ms since epoch). */
  at?: number;
  /** The gateway process reading the run's upstream stream. */
  owner?: string;
  /** Until when that process's claim holds (ms since epoch). */
  lease?: number;
  /** The upstream id of the last logged event that carried one (a takeover rejoins after it). */
  up?: string;
  /** The newest `tn` events, packed (`type LF data LF` each), not yet in a page (`kv_tail.ts`). */
  tail?: string;
  /** How many events {@link HeadValue.tail} holds (0 or absent: every event is in pages). */
  tn?: number;
}

/** The summary value: the summary and the run's expiry deadline (ms). */
export interface RunRecord {
  /** The run's summary. */
  summary: RunSummary;
  /** The run's expiry deadline, ms since epoch (the head's `exp`). */
  exp: number;
}

/** A page holding one event whose data has a line break (packed pages are line based). */
export interface InlineEventValue {
  /** The event type. */
  t: string;
  /** The event data (JSON text with a line break). */
  d: string;
}

/** A page holding one big event whose data is in `parts` parts of blob `blob`, `bytes` long. */
export interface BlobEventValue {
  /** The event type. */
  t: string;
  /** The blob id (a random UUID) naming the `["ev_blob", id, blob, i]` parts. */
  blob: string;
  /** How many parts the data is split into. */
  parts: number;
  /** The data's length in UTF-8 bytes. */
  bytes: number;
}

/**
 * What `["ev", id, lastSeq]` holds: packed events (UTF-8 `type LF data LF` per event; the
 * page's first seq is `lastSeq − count + 1`), or a page of one inline or big event.
 */
export type PageValue = Uint8Array | InlineEventValue | BlobEventValue;

/** A page ready to write: its value, a big event's parts, and its cost in an atomic op. */
export interface EncodedPage {
  /** The events it holds, in order. */
  events: NewEvent[];
  /** The value to store under the page's key. */
  value: PageValue;
  /** A big event's parts, written before the page (empty otherwise). */
  parts: Uint8Array[];
  /** Estimated bytes of the page's key and value. */
  bytes: number;
  /** Key bytes of the page. */
  keyBytes: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Bytes of an id inside an encoded key (UTF-8, NUL escaped, framing). */
export function idKeyBytes(id: string): number {
  // Run ids are printable ASCII (RUN_ID_RE): one byte a character, no encoding needed (this
  // runs on every append).
  if (ASCII_NO_NUL.test(id)) return id.length + 2;
  let nul = 0;
  for (let i = id.indexOf("\0"); i >= 0; i = id.indexOf("\0", i + 1)) nul++;
  return encoder.encode(id).length + nul + 2;
}

/** Printable ASCII only (so no NUL, one UTF-8 byte a character). */
const ASCII_NO_NUL = /^[ -~]*$/;

/** Packed pages split on LF only, so only an LF keeps data out of one. */
function hasLf(s: string): boolean {
  return s.includes("\n");
}

/**
 * Packs a batch of events into pages, in order. Events whose data has a line break get a page
 * of their own (inline), as do events too big for a page (their data goes in parts).
 * @throws {EventTooLargeError} when one event is over {@link MAX_EVENT_BYTES} (nothing is
 *   written then: the caller plans before writing).
 */
export function encodePages(
  runId: string,
  idBytes: number,
  events: readonly NewEvent[],
): EncodedPage[] {
  const pages: EncodedPage[] = [];
  const pageKeyBytes = 19 + idBytes;
  let open: NewEvent[] = [];
  let text = "";
  const flush = () => {
    if (open.length === 0) return;
    packInto(pages, open, text, pageKeyBytes);
    open = [];
    text = "";
  };
  for (const ev of events) {
    const { type, data } = ev;
    if (type.length > MAX_TYPE_CHARS) {
      throw new EventTooLargeError(runId, type, encoder.encode(type).length, MAX_TYPE_CHARS);
    }
    if (hasLf(type) || type.includes("\r")) {
      throw new TypeError(`Run ${runId}: an event type must not contain line breaks`);
    }
    const chars = type.length + data.length + 2;
    // A UTF-16 unit is at most 3 UTF-8 bytes: only events that might not fit a page are sized.
    const maybeBig = chars * 3 > PAGE_BYTES;
    if (!maybeBig && !hasLf(data)) {
      if (open.length > 0 && text.length + chars > PAGE_BYTES) flush();
      open.push(ev);
      text += type + "\n" + data + "\n";
      continue;
    }
    flush();
    const body = encoder.encode(data);
    if (!hasLf(data) && body.length + type.length * 3 + 2 <= PAGE_BYTES) {
      packInto(pages, [ev], type + "\n" + data + "\n", pageKeyBytes);
      continue;
    }
    if (body.length + type.length * 3 + 64 <= PAGE_BYTES) {
      // Line breaks in data: one event, stored as a V8-serialized object (≤ 3 bytes per unit).
      pages.push({
        events: [ev],
        value: { t: type, d: data },
        parts: [],
        bytes: pageKeyBytes + body.length + type.length * 3 + 64 + SLACK,
        keyBytes: pageKeyBytes,
      });
      continue;
    }
    if (body.length > MAX_EVENT_BYTES) {
      throw new EventTooLargeError(runId, type, body.length, MAX_EVENT_BYTES);
    }
    const parts: Uint8Array[] = [];
    for (let at = 0; at < body.length; at += PART_BYTES) {
      parts.push(body.subarray(at, Math.min(at + PART_BYTES, body.length)));
    }
    pages.push({
      events: [ev],
      value: { t: type, blob: crypto.randomUUID(), parts: parts.length, bytes: body.length },
      parts,
      bytes: pageKeyBytes + type.length * 3 + 160 + SLACK,
      keyBytes: pageKeyBytes,
    });
  }
  flush();
  return pages;
}

/** Encodes `events` (whose packed text is `text`) as one page, or halves when it is too big. */
function packInto(pages: EncodedPage[], events: NewEvent[], text: string, keyBytes: number) {
  const value = encoder.encode(text);
  if (value.length <= MAX_VALUE_BYTES - 512 || events.length === 1) {
    pages.push({ events, value, parts: [], bytes: keyBytes + value.length + SLACK, keyBytes });
    return;
  }
  // Mostly non-ASCII text took more than a byte per unit: split in two and try again.
  const half = events.length >> 1;
  const a = events.slice(0, half);
  const b = events.slice(half);
  packInto(pages, a, packText(a), keyBytes);
  packInto(pages, b, packText(b), keyBytes);
}

function packText(events: readonly NewEvent[]): string {
  let text = "";
  for (const ev of events) text += ev.type + "\n" + ev.data + "\n";
  return text;
}

/**
 * Groups pages into consecutive atomic writes inside the limits; returns `[start, end)` index
 * ranges. Every page fits one write on its own.
 */
export function planWrites(pages: readonly EncodedPage[]): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  let start = 0;
  let bytes = 0;
  let mutations = 0;
  let keyBytes = 0;
  for (let i = 0; i < pages.length; i++) {
    const p = pages[i];
    if (
      i > start && (
        bytes + p.bytes > OP_EVENT_BYTES ||
        mutations + 1 > OP_EVENT_MUTATIONS ||
        keyBytes + p.keyBytes > OP_EVENT_KEY_BYTES
      )
    ) {
      ranges.push([start, i]);
      start = i;
      bytes = mutations = keyBytes = 0;
    }
    bytes += p.bytes;
    mutations += 1;
    keyBytes += p.keyBytes;
  }
  if (start < pages.length) ranges.push([start, pages.length]);
  return ranges;
}

/** True when a page holds one big event stored in parts. */
export function isBlob(value: PageValue): value is BlobEventValue {
  return !(value instanceof Uint8Array) && "blob" in value;
}

/**
 * The events of a packed or inline page, with their seqs (the page's last is `lastSeq`). A blob
 * page needs its parts: see {@link joinParts}.
 */
export function decodePage(
  value: Uint8Array | InlineEventValue,
  lastSeq: number,
): { seq: number; type: string; data: string }[] {
  if (!(value instanceof Uint8Array)) return [{ seq: lastSeq, type: value.t, data: value.d }];
  const lines = decoder.decode(value).split("\n");
  const n = (lines.length - 1) >> 1;
  const out = new Array<{ seq: number; type: string; data: string }>(n);
  const first = lastSeq - n + 1;
  for (let i = 0; i < n; i++) {
    out[i] = { seq: first + i, type: lines[2 * i], data: lines[2 * i + 1] };
  }
  return out;
}

/** Reassembles a big event's data; throws when parts are missing (never returns a torn event). */
export function joinParts(
  runId: string,
  seq: number,
  value: BlobEventValue,
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
