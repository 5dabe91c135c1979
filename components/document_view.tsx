import { layoutDocument } from "../lib/console/documents.ts";
import { humanize } from "../lib/console/format.ts";
import type { ArtifactView } from "../lib/console/run_state.ts";

/**
 * An artifact as a document (title, number, fields, line items, totals), or as formatted JSON
 * when its name is unknown. Throws for a known document with a broken shape: render it inside
 * an `ErrorBoundary`.
 */
export function DocumentView({ artifact }: { artifact: ArtifactView }) {
  const doc = layoutDocument(artifact.name, artifact.content);
  if (!doc) {
    return (
      <article class="doc" data-artifact={artifact.name}>
        <header class="doc-head">
          <h4>{humanize(artifact.name)}</h4>
          <span class="doc-meta">{artifact.mime}</span>
        </header>
        <pre class="json">{JSON.stringify(artifact.content, null, 2)}</pre>
      </article>
    );
  }
  return (
    <article class="doc" data-artifact={artifact.name}>
      <header class="doc-head">
        <h4>{doc.title}</h4>
        {doc.number && <span class="doc-meta">{doc.number}</span>}
        {doc.status && <span class="chip">{doc.status}</span>}
      </header>
      <dl class="doc-fields">
        {doc.fields.map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
      </dl>
      {doc.lists.map(([label, items]) => (
        <div key={label} class="doc-list">
          <h5>{label}</h5>
          <ul>{items.map((item, i) => <li key={i}>{item}</li>)}</ul>
        </div>
      ))}
      {doc.tables.map((t) => (
        <div key={t.key} class="table-wrap">
          <table class="doc-table">
            <caption>{t.label}</caption>
            <thead>
              <tr>{t.columns.map((c) => <th key={c} scope="col">{c}</th>)}</tr>
            </thead>
            <tbody>
              {t.rows.map((row, i) => (
                <tr key={i}>{row.map((cell, j) => <td key={j}>{cell}</td>)}</tr>
              ))}
            </tbody>
          </table>
        </div>
      ))}
      {doc.totals.length > 0 && (
        <dl class="doc-totals">
          {doc.totals.map(([k, v]) => (
            <div key={k}>
              <dt>{k}</dt>
              <dd>{v}</dd>
            </div>
          ))}
        </dl>
      )}
    </article>
  );
}
