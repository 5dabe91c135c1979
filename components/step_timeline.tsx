import type { StepView } from "../lib/console/run_state.ts";

/** The run's steps in order, each with its state (pending, running, done, skipped…). */
export function StepTimeline({ steps }: { steps: StepView[] }) {
  return (
    <ol class="steps" aria-label="Steps">
      {steps.map((s) => (
        <li key={s.name} class={`step step-${s.state}`} data-step={s.name} data-state={s.state}>
          <span class="step-title">{s.title}</span>
          <span class="step-state">
            {s.state === "waiting" ? "waiting for approval" : s.state}
          </span>
        </li>
      ))}
    </ol>
  );
}
