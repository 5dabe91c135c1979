import type { StepState, StepView } from "../lib/console/run_state.ts";

const LABELS: Record<StepState, string> = {
  pending: "pending",
  running: "running",
  waiting: "waiting for approval",
  done: "done",
  skipped: "skipped",
  failed: "failed",
};

/** The run's steps in order, each with its state (pending, running, done, skipped…). */
export function StepTimeline({ steps }: { steps: StepView[] }) {
  return (
    <ol class="steps" aria-label="Steps">
      {steps.map((s) => (
        <li key={s.name} class={`step step-${s.state}`} data-step={s.name} data-state={s.state}>
          <span class="step-dot" aria-hidden="true" />
          <span class="step-title">{s.title}</span>
          <span class="step-state">{LABELS[s.state]}</span>
        </li>
      ))}
    </ol>
  );
}
