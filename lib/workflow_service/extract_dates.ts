/**
 * Dates, counts and stays in a free-text prompt (see `extract.ts` for what extraction promises):
 * - dates: ISO `2026-12-01`, `Dec 1`, `December 1st, 2026`, `1 December`, `Dec 1-4`, `today`,
 *   `tomorrow`; a date without a year is the next such day on or after today (UTC);
 * - durations: "3 nights", "three nights", "a week";
 * - counts: "2 guests", "4 adults".
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

/** Month names, lower case, January first. */
export const MONTHS: string[] = [
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

/** A month name or its abbreviation, as a regular expression group (one capture). */
const MONTH_RE =
  "(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)";
/** A word that is a month name or abbreviation, and nothing else. */
export const MONTH_ONLY: RegExp = new RegExp(`^${MONTH_RE}$`, "i");
/** Text that ends with a month name ("… Dec"): a number after it is a day. */
export const MONTH_BEFORE: RegExp = new RegExp(`\\b${MONTH_RE}\\.?\\s*$`, "i");
/** Weekday names, lower case, Monday first. */
export const WEEKDAYS: string[] = [
  "monday",
  "tuesday",
  "wednesday",
  "thursday",
  "friday",
  "saturday",
  "sunday",
];

function monthIndex(word: string): number {
  const w = word.toLowerCase().replace(/\.$/, "");
  return MONTHS.findIndex((m) => m.startsWith(w.slice(0, 3)));
}

/** `y`-`m`-`d` (month from 0) as a date, or undefined when there is no such day. */
export function validDate(y: number, m: number, d: number): IsoDate | undefined {
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
  /** The first night. */
  checkIn: IsoDate;
  /** The day of departure: `checkIn` plus `nights`. */
  checkOut: IsoDate;
  /** Nights of the stay, 1–30. */
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
