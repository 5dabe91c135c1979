import { Component, type ComponentChildren } from "preact";

/** Props of {@link ErrorBoundary}. */
export interface ErrorBoundaryProps {
  /** What is rendered inside, for the fallback text ("the invoice document"). */
  what: string;
  /** The renderer it guards. */
  children: ComponentChildren;
}

/**
 * Catches a renderer that throws (a malformed document, an unexpected event shape) and shows a
 * one-line fallback in its place, so one bad event never takes the panel or the stream down.
 */
export class ErrorBoundary extends Component<ErrorBoundaryProps, { error?: string }> {
  /** Switches to the fallback on the render after the error. */
  static override getDerivedStateFromError(err: unknown): { error: string } {
    return { error: err instanceof Error ? err.message : String(err) };
  }

  /** Logs the failure next to the `[workflow] event:` lines. */
  override componentDidCatch(err: unknown): void {
    console.warn(`[workflow] could not display ${this.props.what}:`, err);
  }

  /** The children, or the fallback once they threw. */
  override render(): ComponentChildren {
    const { error } = this.state;
    if (error === undefined) return this.props.children;
    return (
      <p class="fallback" role="note">
        Could not display {this.props.what}: {error}
      </p>
    );
  }
}
