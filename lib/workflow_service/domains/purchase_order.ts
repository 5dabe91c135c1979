/**
 * `purchase_order`: procure-to-pay. Requisition → budget check → finance approval → purchase
 * order → goods receipt → three-way match (PO, receipt and vendor invoice agree). Budgets and
 * terms are fixed tables; document numbers are hashes of the thread.
 * @module
 */
import {
  appContextOf,
  extractMoney,
  extractName,
  extractRate,
  num,
  promptOf,
  str,
} from "../extract.ts";
import { addDays, isoDate } from "../extract_dates.ts";
import { extractLineRequest } from "../extract_purchase.ts";
import { cents, docId, usd } from "../ids.ts";
import type { JsonObject, WorkflowSpec } from "../spec.ts";

/** The input a procurement run works from. */
export interface PurchaseInput {
  item: string;
  quantity: number;
  /** Unit price in USD. */
  unitPrice: number;
  vendor: string;
  department: string;
  /** The requisition date (today per the service clock). */
  requestedOn: string;
}

/** Annual budgets per department (USD); departments not listed get `DEFAULT_BUDGET`. */
export const BUDGETS: Record<string, number> = {
  Engineering: 250_000,
  Marketing: 80_000,
  Operations: 120_000,
  Finance: 50_000,
  Facilities: 90_000,
};
/** Budget of a department not in `BUDGETS`. */
export const DEFAULT_BUDGET = 60_000;
/** Share of every budget already committed this year (fixed, so checks are reproducible). */
export const COMMITTED_SHARE = 0.4;
/** Flat shipping per order (USD). */
export const SHIPPING = 45;
/** Defaults when the prompt is silent. */
export const PO_DEFAULTS = {
  item: "office supplies",
  quantity: 10,
  unitPrice: 25,
  vendor: "Contoso Supplies",
  department: "Operations",
} as const;

/**
 * Reads the procurement input. `app_context` fields (`item`, `quantity`, `unit_price`, `vendor`,
 * `department`) override the prompt. In the prompt: "20 laptops", "$1,200 each" (or the only
 * amount, or a total divided by the quantity: "total $5,000"), "from Acme Corp", "for Engineering".
 */
export function extractPurchaseInput(initialState: JsonObject, now: Date): PurchaseInput {
  const prompt = promptOf(initialState);
  const ctx = appContextOf(initialState);
  const line = extractLineRequest(prompt);
  const quantity = Math.round(
    num(ctx.quantity, 1, 1_000_000) ?? line?.quantity ?? PO_DEFAULTS.quantity,
  ) || 1;
  const money = extractMoney(prompt);
  const total = /\btotal\b/i.test(prompt) && money.length === 1 ? money[0].amount : undefined;
  const unitPrice = num(ctx.unit_price, 0.01, 10_000_000) ??
    extractRate(prompt, ["each", "unit", "item", "piece"]) ??
    (total !== undefined ? total / quantity : money[0]?.amount) ?? PO_DEFAULTS.unitPrice;
  return {
    item: str(ctx.item) ?? line?.item ?? PO_DEFAULTS.item,
    quantity,
    unitPrice: cents(unitPrice),
    vendor: str(ctx.vendor) ?? extractName(prompt, ["from", "vendor", "supplier"]) ??
      PO_DEFAULTS.vendor,
    department: str(ctx.department) ??
      extractName(prompt, ["for", "department", "dept", "team"]) ?? PO_DEFAULTS.department,
    requestedOn: isoDate(now),
  };
}

function subtotalOf(input: PurchaseInput): number {
  return cents(input.quantity * input.unitPrice);
}

/** The `purchase_order` workflow. */
export const purchaseOrder: WorkflowSpec<PurchaseInput> = {
  info: {
    name: "purchase_order",
    title: "Purchase order (procure-to-pay)",
    domain: "procurement",
    description:
      "Requisition, budget check, finance approval, purchase order, goods receipt and three-way match.",
    example_prompt: "Order 20 laptops from Acme Corp at $1,200 each for Engineering",
  },
  extract: extractPurchaseInput,
  steps: [
    {
      kind: "task",
      name: "requisition",
      title: "Raise requisition",
      run: (input, _r, ctx) => ({
        requisition_number: docId("REQ", ctx.threadId),
        department: input.department,
        item: input.item,
        quantity: input.quantity,
        unit_price: input.unitPrice,
        estimated_total: cents(subtotalOf(input) + SHIPPING),
        vendor: input.vendor,
        requested_on: input.requestedOn,
        needed_by: addDays(input.requestedOn, 14),
      }),
    },
    {
      kind: "task",
      name: "budget_check",
      title: "Check budget",
      run: (input, r) => {
        const budget = BUDGETS[input.department] ?? DEFAULT_BUDGET;
        const committed = cents(budget * COMMITTED_SHARE);
        const available = cents(budget - committed);
        const requested = Number(r.requisition.estimated_total);
        return {
          department: input.department,
          annual_budget: budget,
          committed,
          available,
          requested,
          within_budget: requested <= available,
          remaining_after: cents(available - requested),
        };
      },
    },
    {
      kind: "gate",
      name: "finance_approval",
      title: "Finance approval",
      message: (input, r) => {
        const b = r.budget_check;
        const note = b.within_budget
          ? `within budget (${usd(Number(b.available))} available)`
          : `OVER BUDGET by ${usd(-Number(b.remaining_after))}`;
        return `Approve requisition ${r.requisition.requisition_number}: ${input.quantity} × ${input.item} from ${input.vendor} for ${
          usd(Number(b.requested))
        }, ${input.department}, ${note}?`;
      },
    },
    {
      kind: "task",
      name: "issue_po",
      title: "Issue purchase order",
      artifact: "purchase_order",
      run: (input, r, ctx) => {
        const subtotal = subtotalOf(input);
        return {
          po_number: docId("PO", ctx.threadId),
          requisition_number: r.requisition.requisition_number,
          vendor: input.vendor,
          bill_to: `${input.department} department`,
          ship_to: "Main warehouse, dock 2",
          issued_on: input.requestedOn,
          payment_terms: "Net 30",
          currency: "USD",
          line_items: [
            {
              line: 1,
              description: input.item,
              quantity: input.quantity,
              unit_price: input.unitPrice,
              amount: subtotal,
            },
          ],
          subtotal,
          shipping: SHIPPING,
          total: cents(subtotal + SHIPPING),
        };
      },
    },
    {
      kind: "task",
      name: "goods_receipt",
      title: "Receive goods",
      artifact: "goods_receipt",
      run: (input, r, ctx) => ({
        receipt_number: docId("GRN", ctx.threadId),
        po_number: r.issue_po.po_number,
        received_on: addDays(input.requestedOn, 7),
        received_by: "Receiving, main warehouse",
        lines: [{
          line: 1,
          description: input.item,
          ordered: input.quantity,
          received: input.quantity,
          condition: "good",
        }],
      }),
    },
    {
      kind: "task",
      name: "three_way_match",
      title: "Three-way match",
      artifact: "match_report",
      run: (input, r, ctx) => {
        const po = r.issue_po;
        const received = input.quantity;
        const invoice = {
          invoice_number: docId("VINV", input.vendor, ctx.threadId),
          vendor: input.vendor,
          quantity: input.quantity,
          unit_price: input.unitPrice,
          total: po.total,
        };
        const checks = [
          { check: "quantity: PO = receipt = invoice", ok: invoice.quantity === received },
          { check: "price: PO = invoice", ok: invoice.unit_price === input.unitPrice },
          { check: "total: PO = invoice", ok: invoice.total === po.total },
        ];
        const matched = checks.every((c) => c.ok);
        return {
          po_number: po.po_number,
          receipt_number: r.goods_receipt.receipt_number,
          vendor_invoice: invoice,
          checks,
          matched,
          status: matched ? "ready_for_payment" : "on_hold",
          payment_due: addDays(String(r.goods_receipt.received_on), 30),
        };
      },
    },
  ],
  summarize: (input, r) => ({
    po_number: r.issue_po.po_number,
    vendor: input.vendor,
    department: input.department,
    total: r.issue_po.total,
    currency: "USD",
    matched: r.three_way_match.matched,
    payment_due: r.three_way_match.payment_due,
  }),
};
