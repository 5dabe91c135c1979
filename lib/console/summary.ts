/**
 * Domain summaries: the few facts a person wants at a glance, read from what the run reported
 * so far (inputs, step results, documents, result). Hotel: guest, room, dates, amount.
 * Hospital: patient, ward, bed. Procurement: vendor, department, order, total.
 * @module
 */
import { money } from "./format.ts";

/** The built-in graphs' domains, for when the graph list is not at hand. */
const GRAPH_DOMAINS: Record<string, string> = {
  hotel_o2c: "hospitality",
  hospital_admission: "healthcare",
  purchase_order: "procurement",
};

type Facts = Record<string, unknown>;
type Line = [label: string, read: (f: Facts) => unknown];

const first = (f: Facts, ...keys: string[]) => keys.map((k) => f[k]).find((v) => v != null);
const amount = (f: Facts) => {
  const total = first(f, "total", "amount");
  return total === undefined ? undefined : money(total, String(f.currency ?? "USD"));
};

const SUMMARIES: Record<string, Line[]> = {
  hospitality: [
    ["Guest", (f) => f.guest],
    ["Room", (f) => {
      const type = first(f, "room_type", "roomType");
      return f.room_number ? `${f.room_number}${type ? ` (${type})` : ""}` : type;
    }],
    ["Dates", (f) => {
      const from = first(f, "check_in", "checkIn");
      const to = first(f, "check_out", "checkOut");
      return from && to ? `${from} → ${to}` : from;
    }],
    ["Amount", (f) => {
      if (first(f, "total", "amount") !== undefined) return amount(f);
      const rate = Number(f.rate_per_night ?? f.rate);
      const nights = Number(f.nights);
      return rate && nights ? `${money(rate * nights)} before tax` : undefined;
    }],
  ],
  healthcare: [
    ["Patient", (f) => (f.age != null && f.patient ? `${f.patient}, ${f.age}` : f.patient)],
    ["Ward", (f) => f.ward],
    ["Bed", (f) => f.bed],
    ["Triage", (f) => (f.esi_level != null ? `ESI ${f.esi_level}` : undefined)],
  ],
  procurement: [
    ["Vendor", (f) => f.vendor],
    ["Department", (f) => f.department],
    ["Order", (f) => (f.quantity != null && f.item ? `${f.quantity} × ${f.item}` : f.item)],
    ["Total", amount],
  ],
};

/**
 * The summary lines known so far for a run of `graph` (in `domain`, if known); lines whose fact
 * has not arrived yet are left out, and an unknown domain has no summary.
 */
export function domainSummary(
  graph: string | undefined,
  facts: Facts,
  domain?: string,
): [string, string][] {
  const lines = SUMMARIES[domain ?? ""] ?? SUMMARIES[GRAPH_DOMAINS[graph ?? ""]] ?? [];
  const out: [string, string][] = [];
  for (const [label, read] of lines) {
    const value = read(facts);
    if (value != null && value !== "") out.push([label, String(value)]);
  }
  return out;
}
