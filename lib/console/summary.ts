/**
 * Domain summaries: the few facts a person wants at a glance, read from what the run reported
 * so far (inputs, step results, documents, result). Hotel: guest, room, dates, amount.
 * Hospital: patient, ward, bed. Procurement: vendor, department, item, total.
 * @module
 */
import { fieldValue } from "./documents.ts";

/** The built-in graphs' domains, for when the graph list is not at hand. */
const GRAPH_DOMAINS: Record<string, string> = {
  hotel_o2c: "hospitality",
  hospital_admission: "healthcare",
  purchase_order: "procurement",
};

/** Per domain: a label and the fact keys it shows (several present values join with →). */
const SUMMARIES: Record<string, [string, string[]][]> = {
  hospitality: [
    ["Guest", ["guest"]],
    ["Room", ["room_number"]],
    ["Dates", ["check_in", "check_out"]],
    ["Amount", ["total"]],
  ],
  healthcare: [["Patient", ["patient"]], ["Ward", ["ward"]], ["Bed", ["bed"]], ["ESI", [
    "esi_level",
  ]]],
  procurement: [
    ["Vendor", ["vendor"]],
    ["Department", ["department"]],
    ["Item", ["item"]],
    ["Total", ["total"]],
  ],
};

/**
 * The summary lines known so far for a run of `graph` (in `domain`, if known); lines whose facts
 * have not arrived yet are left out, and an unknown domain has no summary.
 */
export function domainSummary(
  graph: string | undefined,
  facts: Record<string, unknown>,
  domain?: string,
): [string, string][] {
  const lines = SUMMARIES[domain ?? ""] ?? SUMMARIES[GRAPH_DOMAINS[graph ?? ""]] ?? [];
  const currency = typeof facts.currency === "string" ? facts.currency : "USD";
  const out: [string, string][] = [];
  for (const [label, keys] of lines) {
    const values = keys.filter((k) => facts[k] != null).map((k) =>
      fieldValue(k, facts[k], currency)
    );
    if (values.length) out.push([label, values.join(" → ")]);
  }
  return out;
}
