/**
 * Turns an artifact's JSON into the parts of a business document: a title and number, labelled
 * fields, tables (line items), lists and a totals block. Known names (reservation, invoice,
 * payment receipt, admission record, purchase order, goods receipt, match report) are laid out
 * as documents; anything else gets `null` and is shown as JSON. A known document whose content
 * breaks its contract throws `DocumentError`: the panel's error boundary shows that, and the
 * stream goes on.
 * @module
 */
import { humanize, money } from "./format.ts";

/** The documents the built-in workflows produce: artifact name → the field with its number. */
export const DOCUMENT_NUMBERS: Record<string, string> = {
  reservation: "confirmation",
  invoice: "invoice_number",
  payment_receipt: "reference",
  admission_record: "admission_number",
  purchase_order: "po_number",
  goods_receipt: "receipt_number",
  match_report: "po_number",
};

/** Fields that hold a document's rows (line items…): when present they must be lists. */
const ROW_FIELDS = ["line_items", "lines", "checks", "taxes"];

/** A known document whose content does not have the shape its kind promises. */
export class DocumentError extends Error {
  /** Always `DocumentError`, so logs and error boundaries can tell it apart. */
  override name = "DocumentError";
}

/** A table: column keys, their labels, and one row of display strings per item. */
export interface DocTable {
  /** The artifact field the rows came from. */
  key: string;
  /** The field's name, humanized, as the table's caption. */
  label: string;
  /** Column labels, humanized, in first-seen order. */
  columns: string[];
  /** One row per item, each cell formatted for display. */
  rows: string[][];
}

/** A document laid out for display. */
export interface DocLayout {
  /** The artifact's name, humanized. */
  title: string;
  /** The document number (from the field {@link DOCUMENT_NUMBERS} names), when present. */
  number?: string;
  /** The document's status, underscores turned into spaces, when present. */
  status?: string;
  /** Label and display value of each plain field. */
  fields: [string, string][];
  /** Lists of row objects, laid out as tables. */
  tables: DocTable[];
  /** Label and display values of each list of plain values. */
  lists: [string, string[]][];
  /** Label and formatted amount of each total line (subtotal, shipping, each tax, total). */
  totals: [string, string][];
}

const MONEY_KEYS =
  /(^|_)(amount|total|subtotal|price|shipping|base|budget|committed|available|requested|remaining_after|rate_per_night)$/;
const TOTAL_KEYS = ["subtotal", "shipping", "tax_total", "total"];
const DATE_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d/;

/** Formats one field's value for a person (money, rates, times, yes/no, nested objects). */
export function fieldValue(key: string, value: unknown, currency = "USD"): string {
  if (typeof value === "number") {
    if (MONEY_KEYS.test(key) || key === "tax_total") return money(value, currency);
    if (key === "rate" && value < 1) return `${Math.round(value * 1000) / 10}%`;
    return String(value);
  }
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "string") {
    return DATE_TIME.test(value) ? value.slice(0, 16).replace("T", " ") + " UTC" : value;
  }
  if (Array.isArray(value)) {
    return value.length ? value.map((v) => fieldValue(key, v, currency)).join(", ") : "none";
  }
  if (value && typeof value === "object") {
    return Object.entries(value).map(([k, v]) => `${humanize(k)}: ${fieldValue(k, v, currency)}`)
      .join(" · ");
  }
  return value === null || value === undefined ? "—" : String(value);
}

const isRow = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);

/** Lays a known artifact out as a document; `null` for unknown names or non-object content. */
export function layoutDocument(name: string, content: unknown): DocLayout | null {
  const id = DOCUMENT_NUMBERS[name];
  if (!id || !isRow(content)) return null;
  const c = content as Record<string, unknown>;
  const title = humanize(name);
  for (const key of ROW_FIELDS) {
    if (key in c && !Array.isArray(c[key])) {
      throw new DocumentError(`${title}: ${key} is not a list`);
    }
  }
  const currency = typeof c.currency === "string" ? c.currency : "USD";
  const doc: DocLayout = {
    title,
    number: c[id] === undefined ? undefined : String(c[id]),
    status: typeof c.status === "string" ? c.status.replace(/_/g, " ") : undefined,
    fields: [],
    tables: [],
    lists: [],
    totals: [],
  };
  for (const [key, value] of Object.entries(c)) {
    if (key === id || key === "status" || key === "currency" || key === "taxes") continue;
    if (TOTAL_KEYS.includes(key)) continue;
    if (Array.isArray(value) && value.length && value.every(isRow)) {
      const items = value as Record<string, unknown>[];
      const columns = [...new Set(items.flatMap(Object.keys))].filter((k) => k !== "line");
      doc.tables.push({
        key,
        label: humanize(key),
        columns: columns.map(humanize),
        rows: items.map((item) => columns.map((k) => fieldValue(k, item[k], currency))),
      });
    } else if (Array.isArray(value) && value.length > 1) {
      doc.lists.push([humanize(key), value.map((v) => fieldValue(key, v, currency))]);
    } else {
      doc.fields.push([humanize(key), fieldValue(key, value, currency)]);
    }
  }
  for (const key of TOTAL_KEYS) {
    if (key === "tax_total" && Array.isArray(c.taxes)) {
      for (const t of c.taxes.filter(isRow) as Record<string, unknown>[]) {
        const rate = typeof t.rate === "number" ? ` (${fieldValue("rate", t.rate)})` : "";
        doc.totals.push([`${t.name ?? "Tax"}${rate}`, money(t.amount, currency)]);
      }
    } else if (typeof c[key] === "number") {
      doc.totals.push([humanize(key), money(c[key], currency)]);
    }
  }
  return doc;
}
