/** Props of {@link SiteHeader}. */
export interface SiteHeaderProps {
  /** The section the page belongs to (marked `aria-current`). */
  current?: "console" | "runs";
  /** Shows the "Sign out" button (a dashboard session is open). */
  signedIn?: boolean;
}

const LINKS = [
  ["console", "/", "Console"],
  ["runs", "/runs", "Runs"],
] as const;

/** The top bar of every page: product name and the main sections. */
export function SiteHeader({ current, signedIn }: SiteHeaderProps) {
  return (
    <header class="topbar">
      <a class="skip" href="#main">Skip to content</a>
      <a class="brand" href="/">
        <svg class="brand-mark" viewBox="0 0 24 24" aria-hidden="true">
          <path d="M4 6h10M4 12h16M4 18h7" />
          <circle cx="18" cy="6" r="2" />
          <circle cx="15" cy="18" r="2" />
        </svg>
        Workflow Stream
      </a>
      <nav aria-label="Main">
        {LINKS.map(([key, href, label]) => (
          <a key={key} href={href} aria-current={current === key ? "page" : undefined}>{label}</a>
        ))}
      </nav>
      {signedIn && (
        <form class="signout" method="post" action="/logout">
          <button class="btn" type="submit">Sign out</button>
        </form>
      )}
    </header>
  );
}
