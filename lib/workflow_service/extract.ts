/**
 * Deterministic extraction of workflow inputs from a free-text prompt. No model, no network: a
 * handful of documented patterns, each with a predictable fallback, so the same prompt and clock
 * always give the same input. By domain: dates, counts and stays in `extract_dates.ts`, a
 * patient's age, sex, symptoms and complaint in `extract_clinical.ts`, a purchase line in
 * `extract_purchase.ts`; here what every workflow reads.
 *
 * What is understood here (case-insensitive unless noted):
 * - names: capitalised words after a cue such as "for", "guest", "patient", "named", "from"
 *   ("reservation for John Doe" → "John Doe"); honorifics (Mr, Mrs, Ms, Dr) are skipped, month
 *   and weekday names end the name;
 * - money: `$250`, `$1,200.50`, `250 USD`, with an optional unit ("per night", "/night", "each");
 * - room types: "suite", "double", "twin", "single";
 * - `initial_state` fields: `prompt`, `app_context`, and checked strings, numbers and dates.
 * @module
 */
import { type IsoDate, MONTHS, validDate, WEEKDAYS } from "./extract_dates.ts";

const HONORIFICS = new Set(["mr", "mrs", "ms", "miss", "dr", "prof", "sir"]);
const NAME_STOP = new Set([
  ...MONTHS,
  ...MONTHS.map((m) => m.slice(0, 3)),
  "sept",
  ...WEEKDAYS,
  "i",
  "the",
  "a",
  "an",
  "suite",
  "single",
  "double",
  "er",
  "icu",
  "usd",
  "po",
  "today",
  "tomorrow",
]);

/**
 * The proper name written after the first of `cues` that is followed by one: up to four
 * capitalised words (case-sensitive), skipping honorifics and a lower-case "the", stopping at punctuation, months and
 * weekdays. `"reservation for John Doe from Dec 1"` with cue `for` → `"John Doe"`.
 */
export function extractName(text: string, cues: string[]): string | undefined {
  const tokens = text.split(/\s+/).filter(Boolean);
  const cueSet = new Set(cues.map((c) => c.toLowerCase()));
  for (let i = 0; i < tokens.length; i++) {
    const cue = tokens[i].toLowerCase().replace(/[:,]$/, "");
    if (!cueSet.has(cue)) continue;
    const words: string[] = [];
    for (let j = i + 1; j < tokens.length && words.length < 4; j++) {
      const raw = tokens[j];
      const word = raw.replace(/^["'“(]+/, "").replace(/[.,;:!?"'”)]+$/, "");
      const lower = word.toLowerCase();
      if (words.length === 0 && (HONORIFICS.has(lower) || raw === "the")) continue;
      if (!/^\p{Lu}[\p{L}'’-]*$/u.test(word) || NAME_STOP.has(lower)) break;
      words.push(word);
      if (/[.,;:!?)]$/.test(raw)) break;
    }
    if (words.length > 0) return words.join(" ");
  }
  return undefined;
}

/** An amount of money found in text, with the unit it is quoted per, if any. */
export interface Money {
  /** Amount in currency units. */
  amount: number;
  /** `night`, `each`, … when followed by "per X", "/X", "a X" or "each". */
  per?: string;
}

/** Every amount of money in `text`, in order: `$250`, `$1,200.50`, `250 USD`, `99.90 dollars`. */
export function extractMoney(text: string): Money[] {
  const out: Money[] = [];
  const re =
    /(?:\$\s?(\d{1,3}(?:,\d{3})+|\d+)(\.\d{1,2})?|\b(\d{1,3}(?:,\d{3})+|\d+)(\.\d{1,2})?\s*(?:usd|dollars?)\b)(\s*(?:per|\/|a|an)\s*([a-z]+)|\s*(each|apiece|nightly))?/gi;
  for (const m of text.matchAll(re)) {
    const whole = (m[1] ?? m[3]).replaceAll(",", "");
    const amount = Number(whole + (m[2] ?? m[4] ?? ""));
    if (!Number.isFinite(amount)) continue;
    let per = (m[6] ?? m[7])?.toLowerCase();
    if (per === "apiece") per = "each";
    if (per === "nightly") per = "night";
    out.push(per ? { amount, per } : { amount });
  }
  return out;
}

/** The first amount quoted per one of `units` ("$250 per night" with `["night"]` → 250). */
export function extractRate(text: string, units: string[]): number | undefined {
  const wanted = new Set(units.map((u) => u.toLowerCase()));
  return extractMoney(text).find((m) => m.per !== undefined && wanted.has(m.per))?.amount;
}

/** Room types the hotel sells. */
export type RoomType = "single" | "double" | "suite";

/** The room type named in `text` ("suite", "double", "twin" → double, "single"), or undefined. */
export function extractRoomType(text: string): RoomType | undefined {
  const m = /\b(suite|double|twin|queen|king|single)\b/i.exec(text);
  if (!m) return undefined;
  const w = m[1].toLowerCase();
  if (w === "suite") return "suite";
  if (w === "single") return "single";
  return "double";
}
/** `prompt` from an `initial_state`, or "" (non-strings are ignored). */
export function promptOf(initialState: Record<string, unknown>): string {
  const p = initialState.prompt;
  return typeof p === "string" ? p : "";
}

/**
 * `app_context` from an `initial_state` as a plain object ({} when absent or not an object).
 * Its fields override what the prompt says (a form in the app knows better than free text).
 */
export function appContextOf(initialState: Record<string, unknown>): Record<string, unknown> {
  const c = initialState.app_context;
  return typeof c === "object" && c !== null && !Array.isArray(c)
    ? c as Record<string, unknown>
    : {};
}

/** `value` if it is a non-empty string (trimmed, at most `max` characters), else undefined. */
export function str(value: unknown, max = 120): string | undefined {
  return typeof value === "string" && value.trim() !== "" ? value.trim().slice(0, max) : undefined;
}

/** `value` if it is a finite number (or numeric string) within `[min, max]`, else undefined. */
export function num(value: unknown, min: number, max: number): number | undefined {
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  return typeof n === "number" && Number.isFinite(n) && n >= min && n <= max ? n : undefined;
}

/** `value` if it is a valid `YYYY-MM-DD` date, else undefined. */
export function date(value: unknown): IsoDate | undefined {
  if (typeof value !== "string") return undefined;
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value.trim());
  return m ? validDate(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : undefined;
}
