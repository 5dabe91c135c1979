/**
 * Deterministic extraction of workflow inputs from a free-text prompt. No model, no network: a
 * handful of documented patterns, each with a predictable fallback, so the same prompt and clock
 * always give the same input.
 *
 * What is understood (case-insensitive unless noted):
 * - names: capitalised words after a cue such as "for", "guest", "patient", "named", "from"
 *   ("reservation for John Doe" → "John Doe"); honorifics (Mr, Mrs, Ms, Dr) are skipped, month
 *   and weekday names end the name;
 * - dates: ISO `2026-12-01`, `Dec 1`, `December 1st, 2026`, `1 December`, `Dec 1-4`, `today`,
 *   `tomorrow`; a date without a year is the next such day on or after today (UTC);
 * - durations: "3 nights", "three nights", "a week";
 * - money: `$250`, `$1,200.50`, `250 USD`, with an optional unit ("per night", "/night", "each");
 * - counts: "2 guests", "4 adults"; ages: "45-year-old", "age 45", "aged 45", "45 yo", "Name, 45,";
 * - symptoms from a fixed vocabulary and a severity word (critical, severe, moderate, mild);
 * - a chief complaint: the text after "with", "presenting with", "complaining of", …;
 * - quantity and item: "20 laptops", "500 reams of printer paper".
 * @module
 */

/** A calendar date as `YYYY-MM-DD` (UTC). */
export type IsoDate = string;

const DAY_MS = 86_400_000;

/** `d` as `YYYY-MM-DD` in UTC. */
export function isoDate(d: Date): IsoDate {
  return d.toISOString().slice(0, 10);
}

/** `date` plus `days` calendar days. */
export function addDays(date: IsoDate, days: number): IsoDate {
  return isoDate(new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS));
}

/** Whole days from `a` to `b` (negative when `b` is earlier). */
export function daysBetween(a: IsoDate, b: IsoDate): number {
  return Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / DAY_MS);
}

const MONTHS = [
  "january",
  "february",
  "march",
  "april",
  "may",
  "june",
  "july",
  "august",
  "september",
  "october",
  "november",
  "december",
];
const MONTH_RE =
  "(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)";
const MONTH_ONLY = new RegExp(`^${MONTH_RE}$`, "i");
const MONTH_BEFORE = new RegExp(`\\b${MONTH_RE}\\.?\\s*$`, "i");
const WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

function monthIndex(word: string): number {
  const w = word.toLowerCase().replace(/\.$/, "");
  return MONTHS.findIndex((m) => m.startsWith(w.slice(0, 3)));
}

function validDate(y: number, m: number, d: number): IsoDate | undefined {
  const t = Date.UTC(y, m, d);
  const dt = new Date(t);
  if (dt.getUTCFullYear() !== y || dt.getUTCMonth() !== m || dt.getUTCDate() !== d) {
    return undefined;
  }
  return isoDate(dt);
}

/** A month and day without a year: the next occurrence on or after `today`. */
function nextOccurrence(m: number, d: number, today: IsoDate): IsoDate | undefined {
  const year = Number(today.slice(0, 4));
  for (const y of [year, year + 1]) {
    const date = validDate(y, m, d);
    if (date && date >= today) return date;
  }
  // 29 February with no leap year soon: fall back to the first valid one.
  return validDate(year + 1, m, d) ?? validDate(year, m, d);
}

interface Found {
  index: number;
  date: IsoDate;
}

/**
 * Every date mentioned in `text`, in the order written. `now` anchors relative words and dates
 * without a year. A range such as "Dec 1-4" or "December 1 to 4" yields both ends.
 */
export function extractDates(text: string, now: Date): IsoDate[] {
  const today = isoDate(now);
  const found: Found[] = [];
  const taken: Array<[number, number]> = [];
  const free = (i: number, j: number) => taken.every(([a, b]) => j <= a || i >= b);
  const add = (index: number, length: number, date: IsoDate | undefined) => {
    if (!date || !free(index, index + length)) return;
    taken.push([index, index + length]);
    found.push({ index, date });
  };
  for (const m of text.matchAll(/\b(\d{4})-(\d{2})-(\d{2})\b/g)) {
    add(m.index, m[0].length, validDate(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  }
  // "Dec 1-4", "December 1 to 4, 2026"
  const range = new RegExp(
    `\\b${MONTH_RE}\\.?\\s+(\\d{1,2})(?:st|nd|rd|th)?\\s*(?:-|–|to|until|through)\\s*(\\d{1,2})(?:st|nd|rd|th)?\\b(?:,?\\s+(\\d{4}))?`,
    "gi",
  );
  for (const m of text.matchAll(range)) {
    const month = monthIndex(m[1]);
    const start = m[4]
      ? validDate(Number(m[4]), month, Number(m[2]))
      : nextOccurrence(month, Number(m[2]), today);
    if (!start) continue;
    const end = validDate(Number(start.slice(0, 4)), month, Number(m[3]));
    if (!end || end <= start || !free(m.index, m.index + m[0].length)) continue;
    taken.push([m.index, m.index + m[0].length]);
    found.push({ index: m.index, date: start }, { index: m.index + 0.5, date: end });
  }
  const monthDay = new RegExp(
    `\\b${MONTH_RE}\\.?\\s+(\\d{1,2})(?:st|nd|rd|th)?\\b(?:,?\\s+(\\d{4}))?`,
    "gi",
  );
  for (const m of text.matchAll(monthDay)) {
    const month = monthIndex(m[1]);
    add(
      m.index,
      m[0].length,
      m[3]
        ? validDate(Number(m[3]), month, Number(m[2]))
        : nextOccurrence(month, Number(m[2]), today),
    );
  }
  const dayMonth = new RegExp(
    `\\b(\\d{1,2})(?:st|nd|rd|th)?\\s+(?:of\\s+)?${MONTH_RE}\\b\\.?(?:,?\\s+(\\d{4}))?`,
    "gi",
  );
  for (const m of text.matchAll(dayMonth)) {
    const month = monthIndex(m[2]);
    add(
      m.index,
      m[0].length,
      m[3]
        ? validDate(Number(m[3]), month, Number(m[1]))
        : nextOccurrence(month, Number(m[1]), today),
    );
  }
  for (const m of text.matchAll(/\b(today|tonight|tomorrow)\b/gi)) {
    add(m.index, m[0].length, m[1].toLowerCase() === "tomorrow" ? addDays(today, 1) : today);
  }
  return found.sort((a, b) => a.index - b.index).map((f) => f.date);
}

const NUMBER_WORDS: Record<string, number> = {
  a: 1,
  an: 1,
  one: 1,
  two: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
  eight: 8,
  nine: 9,
  ten: 10,
  eleven: 11,
  twelve: 12,
  fourteen: 14,
};

function toCount(word: string): number | undefined {
  const n = /^\d+$/.test(word) ? Number(word) : NUMBER_WORDS[word.toLowerCase()];
  return n === undefined || !Number.isFinite(n) ? undefined : n;
}

/**
 * A count written before one of `nouns` ("2 guests", "three nights"), or undefined. Every
 * "<word> <noun>" is looked at in order and the first whose word is a count wins, so a unit such
 * as "per guest fee, 2 guests" does not hide the count after it.
 */
export function extractCount(text: string, nouns: string[]): number | undefined {
  const alt = nouns.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|");
  for (const m of text.matchAll(new RegExp(`\\b(\\d{1,4}|[a-z]+)[\\s-]+(?:${alt})\\b`, "gi"))) {
    const n = toCount(m[1]);
    if (n !== undefined) return n;
  }
  return undefined;
}

/**
 * A nightly rate ("$150 a night", "250 USD per night", "$99/night", "$120 nightly"): removed
 * before counting nights, or its "a night" would read as a one-night stay.
 */
const NIGHTLY_RATE =
  /(?:\$\s?[\d,]+(?:\.\d{1,2})?|\b[\d,]+(?:\.\d{1,2})?\s*(?:usd|dollars?)\b)\s*(?:(?:per|an?|\/)\s*night(?:ly)?|nightly)\b/gi;

/**
 * Nights of a stay: "3 nights", "three-night", "a week" (7), "a fortnight" (14). Nightly rates
 * are not counts: "$150 a night, 3 nights" is 3.
 */
export function extractNights(text: string): number | undefined {
  text = text.replace(NIGHTLY_RATE, " ");
  const n = extractCount(text, ["nights", "night"]);
  if (n !== undefined) return n;
  const w = /\b(a|one|two|\d)\s+weeks?\b/i.exec(text);
  if (w) return (toCount(w[1]) ?? 1) * 7;
  return /\bfortnight\b/i.test(text) ? 14 : undefined;
}

/** A stay: check-in, check-out and the nights between them. */
export interface Stay {
  checkIn: IsoDate;
  checkOut: IsoDate;
  nights: number;
}

/**
 * The stay a prompt describes. Two dates give check-in and check-out; one date plus "N nights"
 * gives check-out; without dates the check-in is tomorrow (relative to `now`); without a length
 * the stay is `defaultNights` (1). Nights are clamped to 1–30.
 */
export function extractStay(text: string, now: Date, defaultNights = 1): Stay {
  const dates = extractDates(text, now);
  const checkIn = dates[0] ?? addDays(isoDate(now), 1);
  let nights = dates[1] && dates[1] > checkIn
    ? daysBetween(checkIn, dates[1])
    : extractNights(text) ?? defaultNights;
  nights = Math.min(30, Math.max(1, nights));
  return { checkIn, checkOut: addDays(checkIn, nights), nights };
}

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

/**
 * A person's age: "45-year-old", "45 years old", "age 45", "aged 45", "45yo", "Jane Doe, 45,",
 * and last a bare "70 years". The explicit forms win, so "Jane, 45, smoker for 20 years" is 45;
 * a bare "N years" after "for", "of", "since", … or before "ago"/"of" is a duration, never an age.
 */
export function extractAge(text: string): number | undefined {
  const patterns = [
    /\b(\d{1,3})[\s-]*(?:years?|yrs?)[\s-]*old\b/i,
    /\baged?\s*:?\s*(\d{1,3})\b/i,
    /\b(\d{1,3})\s*(?:yo|y\/o)\b/i,
    /,\s*(\d{1,3})\s*(?:,|\(|$|\s(?:with|and|presenting|complaining)\b)/i,
    /(?<!\b(?:for|of|since|over|past|last|about|after|within|in)\s+)\b(\d{1,3})[\s-]*(?:years?|yrs?)\b(?!\s+(?:ago|of|since)\b)/i,
  ];
  for (const re of patterns) {
    const m = re.exec(text);
    if (m) {
      const age = Number(m[1]);
      if (age >= 0 && age <= 120) return age;
    }
  }
  return undefined;
}

/** `male`, `female`, or undefined, from words such as "man", "woman", "male", "F". */
export function extractSex(text: string): "male" | "female" | undefined {
  if (/\b(female|woman|girl|she|her)\b/i.test(text)) return "female";
  if (/\b(male|man|boy|he|his)\b/i.test(text)) return "male";
  return undefined;
}

/**
 * The symptom vocabulary: canonical name → phrases that mean it. Matching is on whole words,
 * case-insensitive; the first listed phrase is the canonical name.
 */
export const SYMPTOMS: Record<string, string[]> = {
  "cardiac arrest": ["cardiac arrest", "no pulse", "pulseless"],
  "unresponsive": ["unresponsive", "unconscious", "not breathing"],
  "chest pain": ["chest pain", "chest pressure", "chest tightness"],
  "stroke symptoms": ["stroke", "slurred speech", "facial droop", "one-sided weakness"],
  "shortness of breath": ["shortness of breath", "difficulty breathing", "short of breath"],
  "severe bleeding": [
    "severe bleeding",
    "heavy bleeding",
    "critical bleeding",
    "uncontrolled bleeding",
    "massive bleeding",
    "profuse bleeding",
    "bleeding heavily",
    "hemorrhage",
    "haemorrhage",
  ],
  "seizure": ["seizure", "convulsions"],
  "overdose": ["overdose"],
  "head injury": ["head injury", "head trauma", "concussion"],
  "fracture": ["fracture", "broken"],
  "abdominal pain": ["abdominal pain", "stomach pain", "belly pain"],
  "high fever": ["high fever"],
  "vomiting": ["vomiting", "nausea"],
  "dehydration": ["dehydration", "dehydrated"],
  "bleeding": ["bleeding", "bleed", "blood loss"],
  "fever": ["fever", "febrile"],
  "cough": ["cough"],
  "laceration": ["laceration", "cut"],
  "sprain": ["sprain", "sprained"],
  "headache": ["headache", "migraine"],
  "rash": ["rash"],
  "sore throat": ["sore throat"],
};

/** A general symptom that a more specific one already covers ("high fever" covers "fever"). */
const COVERED_BY: Record<string, string> = { fever: "high fever", bleeding: "severe bleeding" };

/** Canonical symptoms mentioned in `text`, in vocabulary order, without duplicates. */
export function extractSymptoms(text: string): string[] {
  const lower = text.toLowerCase();
  const out: string[] = [];
  for (const [name, phrases] of Object.entries(SYMPTOMS)) {
    const hit = phrases.some((p) =>
      new RegExp(`\\b${p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\b`).test(lower)
    );
    if (hit && !out.includes(COVERED_BY[name])) out.push(name);
  }
  return out;
}

/**
 * The clinical part of an admission prompt: what follows the first "presenting with",
 * "complaining of", "complains of", "c/o", "suffering from" or "with", without a leading
 * article or a final full stop ("Admit Maria Garcia, 67, with severe chest pain" → "severe chest
 * pain"); undefined when no cue is followed by text.
 */
export function extractComplaint(text: string): string | undefined {
  const m =
    /(?:\bpresenting\s+with|\bcomplain(?:ing|s)\s+of|\bc\/o|\bsuffering\s+from|\bwith)\s+(?:(?:an?|the)\s+)?(\S.*)$/is
      .exec(text);
  const complaint = m?.[1].trim().replace(/[.!]+$/, "").trim();
  return complaint ? complaint.slice(0, 500) : undefined;
}

/** A severity qualifier. */
export type Severity = "critical" | "severe" | "moderate" | "mild";

/** The strongest severity word in `text` ("critical", "severe"/"acute", "moderate", "mild"/"minor"). */
export function extractSeverity(text: string): Severity | undefined {
  if (/\b(critical|life-threatening)\b/i.test(text)) return "critical";
  if (/\b(severe|acute|intense|excruciating)\b/i.test(text)) return "severe";
  if (/\bmoderate\b/i.test(text)) return "moderate";
  if (/\b(mild|minor|slight)\b/i.test(text)) return "mild";
  return undefined;
}

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
  quantity: number;
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
