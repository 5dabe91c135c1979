/** Deterministic prompt extraction (lib/workflow_service/extract*.ts). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  appContextOf,
  date,
  extractMoney,
  extractName,
  extractRate,
  extractRoomType,
  num,
} from "../../lib/workflow_service/extract.ts";
import {
  addDays,
  daysBetween,
  extractCount,
  extractDates,
  extractNights,
  extractStay,
} from "../../lib/workflow_service/extract_dates.ts";
import {
  extractAge,
  extractComplaint,
  extractSeverity,
  extractSex,
  extractSymptoms,
} from "../../lib/workflow_service/extract_clinical.ts";
import { extractLineRequest } from "../../lib/workflow_service/extract_purchase.ts";

const NOW = new Date("2026-07-15T10:00:00.000Z");

describe("names", () => {
  it("reads the capitalised words after a cue", () => {
    assert.equal(extractName("Create a hotel reservation for John Doe", ["for"]), "John Doe");
    assert.equal(
      extractName("Admit patient Maria Garcia, 67, with chest pain", ["patient"]),
      "Maria Garcia",
    );
  });
  it("skips honorifics, stops at months, punctuation and lower-case words", () => {
    assert.equal(extractName("room for Mr. Alan Turing on Dec 1", ["for"]), "Alan Turing");
    assert.equal(extractName("book for Dec 1 for Jane Roe.", ["for"]), "Jane Roe");
    assert.equal(extractName("for Ana López tomorrow", ["for"]), "Ana López");
    assert.equal(extractName("suite for 3 nights", ["for"]), undefined);
    assert.equal(extractName("order for the Facilities team", ["for"]), "Facilities");
  });
  it("is undefined without a cue", () => {
    assert.equal(extractName("John Doe wants a room", ["for"]), undefined);
  });
});

describe("dates", () => {
  it("reads ISO dates, month-day, day-month and ranges in written order", () => {
    assert.deepEqual(extractDates("from 2026-12-01 to 2026-12-04", NOW), [
      "2026-12-01",
      "2026-12-04",
    ]);
    assert.deepEqual(extractDates("on Dec 1", NOW), ["2026-12-01"]);
    assert.deepEqual(extractDates("December 1st, 2027", NOW), ["2027-12-01"]);
    assert.deepEqual(extractDates("the 3rd of March", NOW), ["2027-03-03"]);
    assert.deepEqual(extractDates("Dec 1-4", NOW), ["2026-12-01", "2026-12-04"]);
    assert.deepEqual(extractDates("December 24th to January 2nd", NOW), [
      "2026-12-24",
      "2027-01-02",
    ]);
  });
  it("puts a date without a year on the next such day, and reads today/tomorrow", () => {
    assert.deepEqual(extractDates("on July 15", NOW), ["2026-07-15"]);
    assert.deepEqual(extractDates("on July 14", NOW), ["2027-07-14"]);
    assert.deepEqual(extractDates("check in tomorrow", NOW), ["2026-07-16"]);
    assert.deepEqual(extractDates("today", NOW), ["2026-07-15"]);
  });
  it("ignores impossible dates", () => {
    assert.deepEqual(extractDates("2026-02-30 and Feb 31", NOW), []);
  });
  it("does date arithmetic in UTC", () => {
    assert.equal(addDays("2026-12-30", 3), "2027-01-02");
    assert.equal(daysBetween("2026-12-01", "2026-12-04"), 3);
  });
});

describe("stays", () => {
  it("two dates give the nights", () => {
    assert.deepEqual(extractStay("from 2026-12-01 to 2026-12-04", NOW), {
      checkIn: "2026-12-01",
      checkOut: "2026-12-04",
      nights: 3,
    });
  });
  it("one date plus a length", () => {
    assert.deepEqual(extractStay("suite for 3 nights on Dec 1", NOW), {
      checkIn: "2026-12-01",
      checkOut: "2026-12-04",
      nights: 3,
    });
    assert.equal(extractStay("on Dec 1 for a week", NOW).checkOut, "2026-12-08");
  });
  it("defaults to tomorrow for one night", () => {
    assert.deepEqual(extractStay("a room please", NOW), {
      checkIn: "2026-07-16",
      checkOut: "2026-07-17",
      nights: 1,
    });
  });
  it("reads nights in words and clamps to 30", () => {
    assert.equal(extractNights("three nights"), 3);
    assert.equal(extractNights("a two-night stay"), 2);
    assert.equal(extractNights("a fortnight"), 14);
    assert.equal(extractStay("for 90 nights", NOW).nights, 30);
  });
  it("does not read a nightly rate as the length of the stay", () => {
    assert.equal(extractNights("$250 per night for 3 nights"), 3);
    assert.equal(extractNights("$150 a night, 3 nights"), 3);
    assert.equal(extractNights("250 USD per night, two nights"), 2);
    assert.equal(extractNights("$99/night for a week"), 7);
    assert.equal(extractNights("$120 nightly"), undefined);
    assert.equal(extractStay("$150 a night, 3 nights from 2027-01-10", NOW).checkOut, "2027-01-13");
  });
});

describe("money, counts, rooms", () => {
  it("reads amounts with and without units", () => {
    assert.deepEqual(
      extractMoney("$250 per night, 250 USD, $1,200.50 each, 99.90 dollars a night"),
      [
        { amount: 250, per: "night" },
        { amount: 250 },
        { amount: 1200.5, per: "each" },
        { amount: 99.9, per: "night" },
      ],
    );
    assert.equal(extractRate("suite at $199/night", ["night"]), 199);
    assert.equal(extractRate("budget $500", ["night"]), undefined);
  });
  it("reads counts before nouns", () => {
    assert.equal(extractCount("for 2 guests", ["guests"]), 2);
    assert.equal(extractCount("four adults", ["adults"]), 4);
    assert.equal(extractCount("some guests", ["guests"]), undefined);
    // The first "<word> guest" is a unit, not a count: the next one is.
    assert.equal(extractCount("per guest fee, 2 guests", ["guests", "guest"]), 2);
  });
  it("maps room words to the three room types", () => {
    assert.equal(extractRoomType("a Suite please"), "suite");
    assert.equal(extractRoomType("king bed"), "double");
    assert.equal(extractRoomType("single room"), "single");
    assert.equal(extractRoomType("a room"), undefined);
  });
});

describe("patients", () => {
  it("reads ages in several forms", () => {
    assert.equal(extractAge("a 45-year-old man"), 45);
    assert.equal(extractAge("aged 8"), 8);
    assert.equal(extractAge("82 yo"), 82);
    assert.equal(extractAge("Maria Garcia, 67, with chest pain"), 67);
    assert.equal(extractAge("no age here"), undefined);
    assert.equal(extractAge("age 300"), undefined);
    assert.equal(extractAge("John Smith, 70 years, chest pain"), 70);
  });
  it("prefers an explicit age to an unrelated number of years", () => {
    assert.equal(
      extractAge(
        "Patient Ahmed Khan, 60, presenting with slurred speech, history of 2 years diabetes",
      ),
      60,
    );
    assert.equal(extractAge("Jane, 45, smoker for 20 years"), 45);
    assert.equal(extractAge("a 45 yo, 20 years of smoking"), 45);
    // A duration alone is not an age.
    assert.equal(extractAge("smoker for 20 years, diabetic since 3 years"), undefined);
    assert.equal(extractAge("surgery 2 years ago"), undefined);
  });
  it("reads sex words", () => {
    assert.equal(extractSex("a 45-year-old man"), "male");
    assert.equal(extractSex("woman with fever"), "female");
    assert.equal(extractSex("the patient"), undefined);
  });
  it("maps symptom phrases to canonical names", () => {
    assert.deepEqual(extractSymptoms("Severe chest pain and shortness of breath"), [
      "chest pain",
      "shortness of breath",
    ]);
    assert.deepEqual(extractSymptoms("broken arm, slurred speech"), [
      "stroke symptoms",
      "fracture",
    ]);
    assert.deepEqual(extractSymptoms("high fever and a cough"), ["high fever", "cough"]);
    assert.deepEqual(extractSymptoms("feeling fine"), []);
  });
  it("knows bleeding, general and severe", () => {
    assert.deepEqual(extractSymptoms("critical bleeding"), ["severe bleeding"]);
    assert.deepEqual(extractSymptoms("heavy bleeding from the leg"), ["severe bleeding"]);
    assert.deepEqual(extractSymptoms("minor bleeding after a fall"), ["bleeding"]);
    assert.deepEqual(extractSymptoms("blood loss and a high fever"), ["high fever", "bleeding"]);
  });
  it("reads the chief complaint after its cue", () => {
    assert.equal(
      extractComplaint(
        "Admit patient Maria Garcia, 67, with severe chest pain and shortness of breath.",
      ),
      "severe chest pain and shortness of breath",
    );
    assert.equal(
      extractComplaint(
        "Patient Ahmed Khan, 60, presenting with slurred speech, history of diabetes",
      ),
      "slurred speech, history of diabetes",
    );
    assert.equal(extractComplaint("Tom Baker complaining of a sore throat"), "sore throat");
    assert.equal(
      extractComplaint("man named Tom Baker with a severe broken arm"),
      "severe broken arm",
    );
    assert.equal(extractComplaint("Admit Jane Roe without delay"), undefined);
    assert.equal(extractComplaint("Admit Jane Roe, 54, chest pain"), undefined);
  });
  it("picks the strongest severity word", () => {
    assert.equal(extractSeverity("mild but critical"), "critical");
    assert.equal(extractSeverity("acute pain"), "severe");
    assert.equal(extractSeverity("a minor cut"), "mild");
    assert.equal(extractSeverity("pain"), undefined);
  });
});

describe("purchase lines", () => {
  it("reads quantity and item, skipping money, dates and durations", () => {
    assert.deepEqual(extractLineRequest("Order 20 laptops from Acme Corp at $1,200 each"), {
      quantity: 20,
      item: "laptops",
    });
    assert.deepEqual(extractLineRequest("on Dec 1 buy 500 reams of printer paper for Ops"), {
      quantity: 500,
      item: "printer paper (reams)",
    });
    assert.deepEqual(extractLineRequest("$300 for 3 nights then 4 standing desks"), {
      quantity: 4,
      item: "standing desks",
    });
    assert.equal(extractLineRequest("buy stuff"), undefined);
  });
  it("keeps model numbers after the first item word, not prices or dates", () => {
    assert.deepEqual(extractLineRequest("1000 licenses of Office 365 for Engineering"), {
      quantity: 1000,
      item: "office 365 (licenses)",
    });
    assert.deepEqual(extractLineRequest("Order 5 iPhone 15 Pro from Apple"), {
      quantity: 5,
      item: "iphone 15 pro",
    });
    assert.deepEqual(extractLineRequest("20 laptops 1200 each"), { quantity: 20, item: "laptops" });
    assert.deepEqual(extractLineRequest("12 chairs 2026-12-01"), { quantity: 12, item: "chairs" });
    assert.deepEqual(extractLineRequest("12 chairs Dec 1"), { quantity: 12, item: "chairs" });
  });
});

describe("initial_state helpers", () => {
  it("read app_context and validate its values", () => {
    assert.deepEqual(appContextOf({ app_context: { a: 1 } }), { a: 1 });
    assert.deepEqual(appContextOf({ app_context: [1] }), {});
    assert.equal(num("12", 1, 30), 12);
    assert.equal(num(31, 1, 30), undefined);
    assert.equal(num("x", 1, 30), undefined);
    assert.equal(date("2026-12-01"), "2026-12-01");
    assert.equal(date("2026-13-01"), undefined);
  });
});
