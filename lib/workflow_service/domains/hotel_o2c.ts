/**
 * `hotel_o2c`: a hotel's order-to-cash flow. Reservation → availability → manager approval →
 * check-in → invoice → payment. Rates, taxes and room numbers are fixed tables and hashes, so the
 * same thread and prompt always give the same documents. The `reservation` document is emitted
 * three ways over a run: `held` when created, `checked_in` at check-in, `released` on rejection.
 * @module
 */
import {
  appContextOf,
  date,
  extractName,
  extractRate,
  extractRoomType,
  num,
  promptOf,
  type RoomType,
  str,
} from "../extract.ts";
import { addDays, daysBetween, extractCount, extractStay } from "../extract_dates.ts";
import { cents, docId, pick, usd } from "../ids.ts";
import type { JsonObject, StepResults, WorkflowSpec } from "../spec.ts";

/** The input a hotel run works from. */
export interface HotelInput {
  guest: string;
  checkIn: string;
  checkOut: string;
  nights: number;
  roomType: RoomType;
  guests: number;
  /** Nightly rate in USD (the prompt's "$N per night", else the rack rate of the room type). */
  rate: number;
}

/** Rack rates per night (USD) used when the prompt names no rate. */
export const RACK_RATES: Record<RoomType, number> = { single: 129, double: 179, suite: 349 };
/** Occupancy tax on room revenue. */
export const OCCUPANCY_TAX_RATE = 0.12;
/** City tourism fee per night (USD), not taxed. */
export const TOURISM_FEE_PER_NIGHT = 3.5;
const FLOORS: Record<RoomType, number[]> = { single: [2, 3], double: [4, 5, 6], suite: [8, 9] };
/** Who answers when the prompt names nobody. */
export const DEFAULT_GUEST = "Walk-in Guest";

/**
 * Reads the hotel input. `app_context` fields (`guest_name`, `check_in`, `nights`, `check_out`,
 * `room_type`, `guests`, `rate`) override the prompt. Defaults: guest "Walk-in Guest", check-in
 * tomorrow, 1 night, a double room, 1 guest, the rack rate.
 */
export function extractHotelInput(initialState: JsonObject, now: Date): HotelInput {
  const prompt = promptOf(initialState);
  const ctx = appContextOf(initialState);
  const stay = extractStay(prompt, now);
  const checkIn = date(ctx.check_in) ?? stay.checkIn;
  let nights = num(ctx.nights, 1, 30) ?? stay.nights;
  const checkOut = date(ctx.check_out);
  if (checkOut && checkOut > checkIn && ctx.nights === undefined) {
    nights = Math.min(30, daysBetween(checkIn, checkOut));
  }
  nights = Math.round(nights);
  const roomTypeCtx = str(ctx.room_type)?.toLowerCase();
  const roomType: RoomType = roomTypeCtx === "single" || roomTypeCtx === "double" ||
      roomTypeCtx === "suite"
    ? roomTypeCtx
    : extractRoomType(prompt) ?? "double";
  return {
    guest: str(ctx.guest_name) ?? extractName(prompt, ["for", "guest", "name", "named"]) ??
      DEFAULT_GUEST,
    checkIn,
    checkOut: addDays(checkIn, nights),
    nights,
    roomType,
    guests: num(ctx.guests, 1, 8) ??
      extractCount(prompt, ["guests", "guest", "adults", "people"]) ??
      1,
    rate: cents(
      num(ctx.rate, 1, 100_000) ?? extractRate(prompt, ["night", "nightly"]) ??
        RACK_RATES[roomType],
    ),
  };
}

type R = Record<string, unknown>;

function reservation(input: HotelInput, threadId: string, now: Date): JsonObject {
  return {
    confirmation: docId("HTL", threadId, input.guest, input.checkIn),
    guest: input.guest,
    check_in: input.checkIn,
    check_out: input.checkOut,
    nights: input.nights,
    room_type: input.roomType,
    guests: input.guests,
    rate_per_night: input.rate,
    currency: "USD",
    status: "held",
    booked_at: now.toISOString(),
  };
}

function availability(input: HotelInput, threadId: string): JsonObject {
  const floors = FLOORS[input.roomType];
  const floor = floors[pick(floors.length, threadId, input.checkIn, "floor")];
  const room = floor * 100 + 1 + pick(24, threadId, input.guest, "room");
  return {
    room_type: input.roomType,
    available: true,
    rooms_free: 3 + pick(9, input.checkIn, input.roomType),
    room_number: String(room),
    floor,
  };
}

/** The invoice for a stay: room nights, the tourism fee, occupancy tax on the room charge. */
export function hotelInvoice(
  input: HotelInput,
  confirmation: string,
  issuedOn: string,
): JsonObject {
  const room = cents(input.rate * input.nights);
  const fee = cents(TOURISM_FEE_PER_NIGHT * input.nights);
  const tax = cents(room * OCCUPANCY_TAX_RATE);
  const subtotal = cents(room + fee);
  const label = input.roomType[0].toUpperCase() + input.roomType.slice(1);
  return {
    invoice_number: docId("INV", confirmation),
    confirmation,
    bill_to: input.guest,
    issued_on: issuedOn,
    currency: "USD",
    line_items: [
      {
        description: `${label} room, ${input.nights} night${input.nights === 1 ? "" : "s"}`,
        quantity: input.nights,
        unit_price: input.rate,
        amount: room,
      },
      {
        description: "City tourism fee",
        quantity: input.nights,
        unit_price: TOURISM_FEE_PER_NIGHT,
        amount: fee,
      },
    ],
    subtotal,
    taxes: [{ name: "Occupancy tax", rate: OCCUPANCY_TAX_RATE, base: room, amount: tax }],
    tax_total: tax,
    total: cents(subtotal + tax),
    due: "on check-out",
  };
}

/** The `hotel_o2c` workflow. */
export const hotelO2c: WorkflowSpec<HotelInput> = {
  info: {
    name: "hotel_o2c",
    title: "Hotel order-to-cash",
    domain: "hospitality",
    description:
      "Reservation, availability, manager approval, check-in, invoice and payment for a hotel stay.",
    example_prompt:
      "Create a hotel reservation for John Doe from 2026-12-01 to 2026-12-04, suite, $250 per night",
  },
  extract: extractHotelInput,
  steps: [
    {
      kind: "task",
      name: "reservation",
      title: "Create reservation",
      artifact: "reservation",
      run: (input, _r, ctx) => reservation(input, ctx.threadId, ctx.now),
    },
    {
      kind: "task",
      name: "availability",
      title: "Check availability",
      run: (input, _r, ctx) => availability(input, ctx.threadId),
    },
    {
      kind: "gate",
      name: "manager_approval",
      title: "Manager approval",
      // A rejected stay gives its room back: the held reservation is released.
      onReject: (_input, r, ctx) => [{
        name: "reservation",
        content: {
          ...r.reservation,
          status: "released",
          released_at: ctx.now.toISOString(),
          release_reason: `rejected at manager approval${
            typeof r.manager_approval?.comment === "string" ? `: ${r.manager_approval.comment}` : ""
          }`,
        },
      }],
      message: (input, r: StepResults) =>
        `Approve reservation ${
          (r.reservation as R).confirmation
        } for ${input.guest}: ${input.roomType} room ${
          (r.availability as R).room_number
        }, ${input.nights} night${input.nights === 1 ? "" : "s"} from ${input.checkIn} at ${
          usd(input.rate)
        }/night?`,
    },
    {
      kind: "task",
      name: "check_in",
      title: "Check in guest",
      run: (input, r, ctx) => ({
        confirmation: r.reservation.confirmation,
        guest: input.guest,
        room_number: r.availability.room_number,
        key_card: docId("KEY", ctx.threadId, r.availability.room_number),
        checked_in_at: `${input.checkIn}T15:00:00.000Z`,
        status: "checked_in",
      }),
      // The reservation document moves on from "held", so the newest version tells the truth.
      documents: (_input, r) => [{
        name: "reservation",
        content: {
          ...r.reservation,
          status: "checked_in",
          room_number: r.check_in.room_number,
          checked_in_at: r.check_in.checked_in_at,
        },
      }],
    },
    {
      kind: "task",
      name: "invoice",
      title: "Issue invoice",
      artifact: "invoice",
      run: (input, r) => hotelInvoice(input, String(r.reservation.confirmation), input.checkOut),
    },
    {
      kind: "task",
      name: "payment",
      title: "Capture payment",
      artifact: "payment_receipt",
      run: (input, r, ctx) => ({
        reference: docId("PAY", r.invoice.invoice_number, ctx.threadId),
        invoice_number: r.invoice.invoice_number,
        payer: input.guest,
        amount: r.invoice.total,
        currency: "USD",
        method: "card on file",
        status: "captured",
        paid_at: ctx.now.toISOString(),
      }),
    },
  ],
  summarize: (input, r) => ({
    confirmation: r.reservation.confirmation,
    guest: input.guest,
    room_number: r.availability.room_number,
    check_in: input.checkIn,
    check_out: input.checkOut,
    nights: input.nights,
    invoice_number: r.invoice.invoice_number,
    total: r.invoice.total,
    currency: "USD",
    payment_reference: r.payment.reference,
  }),
};
