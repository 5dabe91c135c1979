/**
 * The run log's newest events, kept in the run's head row (`HeadValue.tail`) until they make up a
 * page. An append that writes a new page row inserts two B-tree entries (the row and its expiry
 * index entry), while one that only rewrites the head changes a row in place: measured here, a
 * commit of two runs' appends wrote ~11 WAL pages with a page row each and ~3 with the head alone,
 * and commits slower than 2 ms fell from ~1–4 % to under 0.1 %. So small appends go into the
 * head, and the head's events move to a page row of their own only when the next append does not
 * fit beside them (docs/architecture.md, "Run log").
 *
 * The head stays one SQLite cell (no overflow page) while its value is under ~900 bytes, hence
 * {@link TAIL_CHARS}, and only one-byte text is kept there (V8 stores other strings two bytes a
 * character). Pages always hold the events `1 .. seq − tn`, and the head the rest.
 * @module
 */
import type { StoredEvent } from "../events.ts";
import type { EncodedPage, HeadValue, PageValue } from "./kv_codec.ts";
import type { NewEvent } from "./store.ts";

/** Most characters of packed events the head keeps (it stays one SQLite cell). */
export const TAIL_CHARS = 640;

/** Text outside Latin-1 (two bytes a character in a stored string). */
const WIDE = /[\u0100-\uffff]/;

/**
 * The packed text (`type LF data LF` per event) of `events` when they may go in a head: no line
 * break in a type or data (a type with one is refused by the page packer), at most `room`
 * characters, one-byte text. Undefined otherwise.
 */
export function tailText(events: readonly NewEvent[], room: number): string | undefined {
  let text = "";
  for (const ev of events) {
    const { type, data } = ev;
    if (text.length + type.length + data.length + 2 > room) return undefined;
    if (type.includes("\n") || type.includes("\r") || data.includes("\n")) return undefined;
    text += type + "\n" + data + "\n";
  }
  return WIDE.test(text) ? undefined : text;
}

/** The last seq held by page rows (the head holds the events after it). */
export function flushedSeq(head: HeadValue): number {
  return head.seq - (head.tn ?? 0);
}

/** The events the head holds, after `afterSeq`, at most `max` pushed onto `out`. */
export function pushTail(
  head: HeadValue,
  afterSeq: number,
  max: number,
  out: StoredEvent[],
): void {
  const tail = head.tail;
  if (!tail || !head.tn) return;
  let seq = flushedSeq(head);
  let at = 0;
  while (at < tail.length && out.length < max) {
    const typeEnd = tail.indexOf("\n", at);
    const dataEnd = tail.indexOf("\n", typeEnd + 1);
    if (typeEnd < 0 || dataEnd < 0) break;
    seq++;
    if (seq > afterSeq) {
      out.push({ seq, type: tail.slice(at, typeEnd), data: tail.slice(typeEnd + 1, dataEnd) });
    }
    at = dataEnd + 1;
  }
}

/** The page rows one append writes, and their estimated size in its atomic operation. */
export interface PageRows {
  /** Each row's key seq (the last seq it holds). */
  seqs: number[];
  /** Each row's value. */
  values: PageValue[];
  /** Estimated bytes of keys and values, the new head's events included. */
  bytes: number;
  /** Estimated bytes of the rows' keys. */
  keyBytes: number;
}

const encoder = new TextEncoder();

/**
 * Places an append's `count` events (their packed `text` when they may go in a head, else
 * `pages`) beside the events `prev` holds, or in `head` (the new head, mutated here) once those
 * move to a page row of their own, or in pages after that row. `rowKeyBytes` is a page key's size.
 */
export function placeEvents(
  prev: HeadValue,
  head: HeadValue,
  count: number,
  text: string | undefined,
  pages: readonly EncodedPage[] | null,
  rowKeyBytes: number,
): PageRows {
  const held = prev.tn ? prev.tail ?? "" : "";
  const rows: PageRows = { seqs: [], values: [], bytes: 0, keyBytes: 0 };
  if (text !== undefined && held.length + text.length <= TAIL_CHARS) {
    head.tail = held + text;
    head.tn = (prev.tn ?? 0) + count;
  } else {
    if (held.length > 0) {
      rows.seqs.push(prev.seq);
      rows.values.push(encoder.encode(held));
      rows.bytes += held.length * 2 + 64;
      rows.keyBytes += rowKeyBytes;
    }
    if (text !== undefined) {
      head.tail = text;
      head.tn = count;
    } else {
      delete head.tail;
      delete head.tn;
      let last = prev.seq;
      for (const page of pages ?? []) {
        last += page.events.length;
        rows.seqs.push(last);
        rows.values.push(page.value);
        rows.bytes += page.bytes;
        rows.keyBytes += page.keyBytes;
      }
    }
  }
  rows.bytes += head.tail?.length ?? 0;
  return rows;
}
