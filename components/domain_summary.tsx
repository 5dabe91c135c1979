/** The domain facts of a run (guest, room, dates… or patient, ward, bed) as a compact grid. */
export function DomainSummary({ lines }: { lines: [string, string][] }) {
  if (!lines.length) return null;
  return (
    <dl class="summary">
      {lines.map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}
