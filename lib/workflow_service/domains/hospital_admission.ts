/**
 * `hospital_admission`: emergency-department admission. Triage (ESI level from symptom keywords)
 * → bed assignment (ward by acuity and complaint) → attending-physician approval → admission
 * record. Rosters, wards and numbers are fixed tables and hashes: deterministic, not clinical advice.
 * @module
 */
import { appContextOf, extractName, num, promptOf, str } from "../extract.ts";
import {
  extractAge,
  extractComplaint,
  extractSeverity,
  extractSex,
  extractSymptoms,
  type Severity,
} from "../extract_clinical.ts";
import { docId, pick } from "../ids.ts";
import type { JsonObject, WorkflowSpec } from "../spec.ts";

/** The input an admission run works from. */
export interface AdmissionInput {
  patient: string;
  age?: number;
  sex?: "male" | "female";
  symptoms: string[];
  severity?: Severity;
  /**
   * `app_context.chief_complaint`, else the prompt's clinical part ("… with severe chest pain"
   * → "severe chest pain"), else the symptoms found, else "not stated".
   */
  complaint: string;
}

/** Used when the prompt names nobody. */
export const DEFAULT_PATIENT = "Unidentified Patient";
/** The chief complaint when neither the prompt nor `app_context` gives one. */
export const NO_COMPLAINT = "not stated";

/** Base ESI level of each canonical symptom (1 = resuscitation … 5 = non-urgent). */
export const SYMPTOM_ESI: Record<string, number> = {
  "cardiac arrest": 1,
  "unresponsive": 1,
  "chest pain": 2,
  "stroke symptoms": 2,
  "shortness of breath": 2,
  "severe bleeding": 2,
  "seizure": 2,
  "overdose": 2,
  "head injury": 3,
  "fracture": 3,
  "abdominal pain": 3,
  "high fever": 3,
  "vomiting": 3,
  "dehydration": 3,
  "bleeding": 3,
  "fever": 4,
  "cough": 4,
  "laceration": 4,
  "sprain": 4,
  "headache": 4,
  "rash": 5,
  "sore throat": 5,
};

const ACUITY = ["", "resuscitation", "emergent", "urgent", "less urgent", "non-urgent"];

/**
 * The Emergency Severity Index level: the most urgent symptom's level (5 when none is known);
 * "critical" means 1; "severe" moves levels 3–5 one step more urgent; "mild" moves levels 3–4 one
 * step less urgent; patients under 2 or 80 and over are never below level 3.
 */
export function esiLevel(symptoms: string[], severity?: Severity, age?: number): number {
  let level = Math.min(5, ...symptoms.map((s) => SYMPTOM_ESI[s] ?? 5));
  if (severity === "critical") return 1;
  if (severity === "severe" && level >= 3) level -= 1;
  if (severity === "mild" && level >= 3 && level <= 4) level += 1;
  if (age !== undefined && (age < 2 || age >= 80)) level = Math.min(level, 3);
  return level;
}

interface Ward {
  ward: string;
  code: string;
  attendings: string[];
  orders: string[];
}

const WARDS: Record<string, Ward> = {
  icu: {
    ward: "Intensive Care Unit",
    code: "ICU",
    attendings: ["Dr. Amelia Hart", "Dr. Rafael Ortiz"],
    orders: ["Continuous cardiac monitoring", "Arterial blood gas", "Hourly neuro checks"],
  },
  cardiology: {
    ward: "Cardiology",
    code: "CARD",
    attendings: ["Dr. Priya Nair", "Dr. Samuel Okafor"],
    orders: ["12-lead ECG", "Serial troponin", "Telemetry"],
  },
  neurology: {
    ward: "Neurology (stroke unit)",
    code: "NEUR",
    attendings: ["Dr. Lena Fischer"],
    orders: ["CT head without contrast", "NIH stroke scale every 4 h", "Swallow screen"],
  },
  orthopedics: {
    ward: "Orthopedics and Trauma",
    code: "ORTH",
    attendings: ["Dr. Marcus Reed", "Dr. Ines Duarte"],
    orders: ["X-ray of affected area", "Pain management", "Neurovascular checks"],
  },
  pulmonology: {
    ward: "Pulmonology",
    code: "PULM",
    attendings: ["Dr. Hannah Cho"],
    orders: ["Chest X-ray", "Pulse oximetry", "Respiratory panel"],
  },
  pediatrics: {
    ward: "Pediatrics",
    code: "PED",
    attendings: ["Dr. Emily Stone"],
    orders: ["Weight-based dosing review", "Guardian consent", "Vital signs every 2 h"],
  },
  medicine: {
    ward: "Internal Medicine",
    code: "MED",
    attendings: ["Dr. Omar Haddad", "Dr. Julia Novak"],
    orders: ["Complete blood count", "Basic metabolic panel", "Vital signs every 4 h"],
  },
  observation: {
    ward: "Observation Unit",
    code: "OBS",
    attendings: ["Dr. Noah Bergström"],
    orders: ["Reassess in 6 h", "Oral hydration", "Discharge planning"],
  },
};

const DIAGNOSES: Record<string, string> = {
  "cardiac arrest": "Post-cardiac-arrest care",
  "unresponsive": "Altered level of consciousness, cause to be determined",
  "chest pain": "Suspected acute coronary syndrome",
  "stroke symptoms": "Suspected acute ischemic stroke",
  "shortness of breath": "Acute dyspnea, cause to be determined",
  "severe bleeding": "Hemorrhage, source to be determined",
  "seizure": "Seizure, cause to be determined",
  "overdose": "Suspected drug overdose",
  "head injury": "Closed head injury",
  "fracture": "Suspected fracture",
  "abdominal pain": "Acute abdominal pain",
  "high fever": "Fever of unknown origin",
  "vomiting": "Gastroenteritis, suspected",
  "dehydration": "Dehydration",
  "bleeding": "Bleeding, source to be determined",
};

/** The ward for a triaged patient: by acuity first, then by complaint, then by age. */
export function wardFor(esi: number, symptoms: string[], age?: number): string {
  if (esi === 1) return "icu";
  if (age !== undefined && age < 16) return "pediatrics";
  if (symptoms.includes("chest pain")) return "cardiology";
  if (symptoms.includes("stroke symptoms") || symptoms.includes("seizure")) return "neurology";
  if (symptoms.some((s) => s === "fracture" || s === "head injury" || s === "sprain")) {
    return "orthopedics";
  }
  if (symptoms.includes("shortness of breath") || symptoms.includes("cough")) return "pulmonology";
  return esi >= 4 ? "observation" : "medicine";
}

/**
 * Reads the admission input. `app_context` fields (`patient_name`, `age`, `sex`, `symptoms` as a
 * list or text, `severity`, `chief_complaint`) override the prompt. Default patient:
 * "Unidentified Patient"; no symptoms means ESI 5.
 */
export function extractAdmissionInput(initialState: JsonObject, _now: Date): AdmissionInput {
  const prompt = promptOf(initialState);
  const ctx = appContextOf(initialState);
  const ctxComplaint = str(ctx.chief_complaint, 500);
  const ctxSymptoms = Array.isArray(ctx.symptoms)
    ? ctx.symptoms.filter((s): s is string => typeof s === "string").join(", ")
    : str(ctx.symptoms, 500);
  const symptoms = extractSymptoms(ctxSymptoms ?? `${prompt} ${ctxComplaint ?? ""}`);
  // The record wants the clinical words, not the instruction ("Admit patient …") around them.
  const complaint = ctxComplaint ?? extractComplaint(prompt) ??
    (symptoms.length > 0 ? symptoms.join(", ") : NO_COMPLAINT);
  const sexCtx = str(ctx.sex)?.toLowerCase();
  const severityCtx = str(ctx.severity)?.toLowerCase();
  const input: AdmissionInput = {
    patient: str(ctx.patient_name) ??
      extractName(prompt, ["patient", "admit", "for", "named", "name"]) ?? DEFAULT_PATIENT,
    symptoms,
    complaint,
  };
  const age = num(ctx.age, 0, 120) ?? extractAge(prompt);
  if (age !== undefined) input.age = age;
  const sex = sexCtx === "male" || sexCtx === "female" ? sexCtx : extractSex(prompt);
  if (sex) input.sex = sex;
  const severity = severityCtx === "critical" || severityCtx === "severe" ||
      severityCtx === "moderate" || severityCtx === "mild"
    ? severityCtx
    : extractSeverity(prompt);
  if (severity) input.severity = severity;
  return input;
}

type R = Record<string, unknown>;

/** The `hospital_admission` workflow. */
export const hospitalAdmission: WorkflowSpec<AdmissionInput> = {
  info: {
    name: "hospital_admission",
    title: "Hospital admission",
    domain: "healthcare",
    description:
      "Emergency triage (ESI level), bed assignment, attending-physician approval and the admission record.",
    example_prompt:
      "Admit patient Maria Garcia, 67, with severe chest pain and shortness of breath",
  },
  extract: extractAdmissionInput,
  steps: [
    {
      kind: "task",
      name: "triage",
      title: "Triage",
      run: (input, _r, ctx) => {
        const esi = esiLevel(input.symptoms, input.severity, input.age);
        return {
          patient: input.patient,
          ...(input.age !== undefined ? { age: input.age } : {}),
          ...(input.sex ? { sex: input.sex } : {}),
          symptoms: input.symptoms,
          ...(input.severity ? { severity: input.severity } : {}),
          esi_level: esi,
          acuity: ACUITY[esi],
          chief_complaint: input.complaint,
          triaged_at: ctx.now.toISOString(),
        };
      },
    },
    {
      kind: "task",
      name: "bed_assignment",
      title: "Assign bed",
      run: (input, r, ctx) => {
        const esi = Number(r.triage.esi_level);
        const key = wardFor(esi, input.symptoms, input.age);
        const ward = WARDS[key];
        const bed = `${ward.code}-${1 + pick(30, ctx.threadId, input.patient, "bed")}${
          "AB"[pick(2, ctx.threadId, "side")]
        }`;
        const isolation = input.symptoms.includes("cough") &&
          (input.symptoms.includes("fever") || input.symptoms.includes("high fever"));
        return {
          ward: ward.ward,
          ward_code: ward.code,
          bed,
          attending: ward.attendings[pick(ward.attendings.length, ctx.threadId, key)],
          isolation: isolation ? "droplet precautions" : "none",
        };
      },
    },
    {
      kind: "gate",
      name: "physician_approval",
      title: "Attending physician approval",
      message: (input, r) => {
        const t = r.triage as R;
        const b = r.bed_assignment as R;
        const who = input.age !== undefined ? `${input.patient} (${input.age})` : input.patient;
        const why = input.symptoms.length ? input.symptoms.join(", ") : "no listed symptoms";
        return `${b.attending}: admit ${who}, ESI ${t.esi_level} (${why}), to ${b.ward} bed ${b.bed}?`;
      },
    },
    {
      kind: "task",
      name: "admission_record",
      title: "Create admission record",
      artifact: "admission_record",
      run: (input, r, ctx) => {
        const esi = Number(r.triage.esi_level);
        const key = wardFor(esi, input.symptoms, input.age);
        const gate = r.physician_approval ?? {};
        return {
          admission_number: docId("ADM", ctx.threadId),
          mrn: docId("MRN", input.patient, input.age ?? ""),
          patient: input.patient,
          ...(input.age !== undefined ? { age: input.age } : {}),
          ...(input.sex ? { sex: input.sex } : {}),
          admitted_at: ctx.now.toISOString(),
          ward: r.bed_assignment.ward,
          bed: r.bed_assignment.bed,
          attending: r.bed_assignment.attending,
          isolation: r.bed_assignment.isolation,
          esi_level: esi,
          chief_complaint: input.complaint,
          provisional_diagnosis: input.symptoms.map((s) => DIAGNOSES[s]).find(Boolean) ??
            "Observation, cause to be determined",
          initial_orders: WARDS[key].orders,
          approved_by: r.bed_assignment.attending,
          ...(typeof gate.comment === "string" ? { approval_comment: gate.comment } : {}),
        };
      },
    },
  ],
  summarize: (input, r) => ({
    admission_number: r.admission_record.admission_number,
    mrn: r.admission_record.mrn,
    patient: input.patient,
    esi_level: r.triage.esi_level,
    ward: r.bed_assignment.ward,
    bed: r.bed_assignment.bed,
    attending: r.bed_assignment.attending,
  }),
};
