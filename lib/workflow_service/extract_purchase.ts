/**
 * The line a purchase prompt asks for (see `extract.ts` for what extraction promises): quantity and
 * item, "20 laptops", "500 reams of printer paper".
 * @module
 */
import { MONTH_BEFORE, MONTH_ONLY } from "./extract_dates.ts";

const UNIT_WORDS = new Set([
  "units",
  "unit",
  "boxes",
  "box",
  "cases",
  "case",
  "packs",
  "pack",
  "reams",
  "ream",
  "pallets",
  "pallet",
  "cartons",
  "carton",
  "licenses",
  "licences",
]);
const ITEM_STOP = new Set([
  "from",
  "at",
  "for",
  "each",
  "by",
  "to",
  "with",
  "per",
  "and",
  "@",
  "on",
  "in",
  "via",
  "costing",
  "priced",
  "usd",
  "dollars",
]);

/** A quantity of an item: "20 laptops" → `{quantity: 20, item: "laptops"}`. */
export interface LineRequest {
  /** How many. */
  quantity: number;
  /** The item words, lower case, with a unit in parentheses ("printer paper (reams)"). */
  item: string;
}

/** Words after a bare number that make it a price ("1200 each"), not part of an item name. */
const PRICE_AFTER = new Set(["each", "apiece", "usd", "dollars", "per", "a", "an"]);

/**
 * The first "<number> <item words>" in `text` that is not money, a date or a duration. Up to three
 * item words, stopping at prepositions; "500 reams of printer paper" → `printer paper (reams)`.
 * After the first item word, words may hold digits ("Office 365", "iPhone 15 Pro"), unless the
 * number is a price ("20 laptops 1200 each" → `laptops`).
 */
export function extractLineRequest(text: string): LineRequest | undefined {
  // The item words are a lookahead, so a skipped match ("Dec 1 buy 500 …") does not swallow
  // the next number.
  const re =
    /(?<![$\d.,])\b(\d{1,6})\s+(?=(?:x\s+)?([A-Za-z][A-Za-z0-9-]*(?:\s+[A-Za-z0-9][A-Za-z0-9-]*){0,5}))/g;
  for (const m of text.matchAll(re)) {
    // "Dec 1 buy …": a day of a month, not a quantity
    if (MONTH_BEFORE.test(text.slice(0, m.index))) continue;
    const words = m[2].split(/\s+/);
    const first = words[0].toLowerCase();
    if (
      /^(nights?|days?|weeks?|months?|years?|usd|dollars?|guests?|adults?|percent|am|pm)$/.test(
        first,
      ) || MONTH_ONLY.test(first)
    ) continue;
    let unit: string | undefined;
    let rest = words;
    if (UNIT_WORDS.has(first) && words[1]?.toLowerCase() === "of") {
      unit = first;
      rest = words.slice(2);
    }
    const item: string[] = [];
    for (const [i, w] of rest.entries()) {
      if (ITEM_STOP.has(w.toLowerCase()) || item.length === 3) break;
      // A model number may follow the first word; a price, a date or a month ends the item.
      if (
        /^\d/.test(w) &&
        (i === 0 || !/^\d{1,4}[a-z]*$/i.test(w) ||
          PRICE_AFTER.has(rest[i + 1]?.toLowerCase() ?? ""))
      ) break;
      if (i > 0 && MONTH_ONLY.test(w)) break;
      item.push(w.toLowerCase());
    }
    if (item.length === 0) continue;
    return { quantity: Number(m[1]), item: item.join(" ") + (unit ? ` (${unit})` : "") };
  }
  return undefined;
}
