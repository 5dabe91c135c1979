/**
 * The clinical part of an admission prompt (see `extract.ts` for what extraction promises):
 * - ages: "45-year-old", "age 45", "aged 45", "45 yo", "Name, 45,"; sex from "woman", "male", …;
 * - symptoms from a fixed vocabulary ({@link SYMPTOMS}) and a severity word (critical, severe,
 *   moderate, mild);
 * - a chief complaint: the text after "with", "presenting with", "complaining of", ….
 * @module
 */

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
