import type { ApprovalView } from "../lib/console/run_state.ts";

/** Props of {@link ApprovalCard}. */
export interface ApprovalCardProps {
  /** The gate to show: its step, question and, once recorded, the decision and comment. */
  approval: ApprovalView;
  /** Sends a decision; without it the card only shows what was decided (the run page). */
  onDecide?: (decision: "approve" | "reject", comment: string) => void;
  /** The decision being sent right now, if any (buttons are disabled meanwhile). */
  sending?: string;
  /** Why the last decision could not be sent. */
  problem?: string;
}

/**
 * The approval gate: the question, an optional comment, Approve / Reject, then the decision.
 * The form is uncontrolled (the comment is read on submit), so the card needs no hooks.
 */
export function ApprovalCard({ approval, onDecide, sending, problem }: ApprovalCardProps) {
  const { decision } = approval;
  const id = `comment-${approval.stepId}`;
  return (
    <section
      class={`approval${decision ? ` approval-${decision}` : ""}`}
      aria-labelledby={`${id}-title`}
    >
      <h3 id={`${id}-title`}>{decision ? "Decision recorded" : "Approval needed"}</h3>
      {approval.message && <p class="approval-message">{approval.message}</p>}
      {decision
        ? (
          <p class="decision" data-testid="decision" tabIndex={-1}>
            <strong>{decision === "approve" ? "Approved" : "Rejected"}</strong>
            {approval.comment ? ` — “${approval.comment}”` : ""}
          </p>
        )
        : onDecide && (
          <form
            class="approval-form"
            onSubmit={(e) => {
              e.preventDefault();
              const form = e.currentTarget;
              const comment = (form.elements.namedItem("comment") as HTMLTextAreaElement).value;
              const button = (e as SubmitEvent).submitter as HTMLButtonElement | null;
              onDecide(button?.value === "reject" ? "reject" : "approve", comment.trim());
            }}
          >
            <label for={id}>Comment (optional)</label>
            <textarea id={id} name="comment" rows={2} maxLength={2000} />
            <div class="row">
              <button type="submit" value="approve" class="btn primary" disabled={!!sending}>
                {sending === "approve" ? "Approving…" : "Approve"}
              </button>
              <button type="submit" value="reject" class="btn danger-outline" disabled={!!sending}>
                {sending === "reject" ? "Rejecting…" : "Reject"}
              </button>
            </div>
            {problem && <p class="alert" role="alert">{problem}</p>}
          </form>
        )}
    </section>
  );
}
