import type { SeriesBucket } from "../lib/analytics.ts";

/** Props of {@link RunsChart}. */
export interface RunsChartProps {
  /** The slices to draw, oldest first. */
  series: SeriesBucket[];
  /** Chart width in SVG user units, 720 by default (it scales with its container). */
  width?: number;
  /** Chart height in SVG user units, 180 by default. */
  height?: number;
}

const PAD = { top: 8, right: 8, bottom: 22, left: 30 };

function label(ms: number, span: number): string {
  const iso = new Date(ms).toISOString();
  // Hours matter within a day, dates beyond it.
  return span <= 86_400_000 + 60_000 ? iso.slice(11, 16) : iso.slice(5, 10);
}

/**
 * Runs over time as stacked bars (succeeded, failed, still open), drawn as inline SVG on the
 * server: no chart library and no script reach the browser. Colours come from CSS classes
 * (the CSP forbids inline styles), and a visually hidden table carries the same numbers for
 * screen readers.
 */
export function RunsChart({ series, width = 720, height = 180 }: RunsChartProps) {
  const max = Math.max(1, ...series.map((b) => b.succeeded + b.failed + b.open));
  const innerW = width - PAD.left - PAD.right;
  const innerH = height - PAD.top - PAD.bottom;
  const slot = innerW / Math.max(1, series.length);
  const barW = Math.max(1, slot * 0.72);
  const y = (v: number) => PAD.top + innerH - (v / max) * innerH;
  const span = series.length > 0 ? series[series.length - 1].end - series[0].start : 0;
  const tickEvery = Math.max(1, Math.ceil(series.length / 6));
  return (
    <figure class="an-chart">
      <svg
        viewBox={`0 0 ${width} ${height}`}
        role="img"
        aria-labelledby="an-chart-title"
        preserveAspectRatio="none"
        data-testid="runs-chart"
      >
        <title id="an-chart-title">Runs started over time, by outcome</title>
        <line class="an-axis" x1={PAD.left} y1={y(0)} x2={width - PAD.right} y2={y(0)} />
        <text class="an-tick" x={PAD.left - 4} y={y(max) + 4} text-anchor="end">{max}</text>
        <text class="an-tick" x={PAD.left - 4} y={y(0)} text-anchor="end">0</text>
        {series.map((b, i) => {
          const x = PAD.left + i * slot + (slot - barW) / 2;
          let base = 0;
          const parts = (["succeeded", "failed", "open"] as const).map((k) => {
            const v = b[k];
            const rect = v > 0
              ? (
                <rect
                  key={k}
                  class={`an-bar an-${k}`}
                  x={x.toFixed(1)}
                  y={y(base + v).toFixed(1)}
                  width={barW.toFixed(1)}
                  height={(y(base) - y(base + v)).toFixed(1)}
                />
              )
              : null;
            base += v;
            return rect;
          });
          return (
            <g key={b.start}>
              <title>
                {`${new Date(b.start).toISOString().slice(0, 16).replace("T", " ")} UTC: ${
                  b.succeeded + b.failed + b.open
                } runs (${b.succeeded} ok, ${b.failed} failed, ${b.open} open)`}
              </title>
              {parts}
              {i % tickEvery === 0 && (
                <text
                  class="an-tick"
                  x={(x + barW / 2).toFixed(1)}
                  y={height - 6}
                  text-anchor="middle"
                >
                  {label(b.start, span)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <figcaption class="an-legend">
        <span class="an-key an-succeeded" aria-hidden="true" /> succeeded{" "}
        <span class="an-key an-failed" aria-hidden="true" /> failed or aborted{" "}
        <span class="an-key an-open" aria-hidden="true" /> still open
      </figcaption>
      <table class="visually-hidden">
        <caption>Runs started per time slice</caption>
        <thead>
          <tr>
            <th>From (UTC)</th>
            <th>Succeeded</th>
            <th>Failed</th>
            <th>Open</th>
          </tr>
        </thead>
        <tbody>
          {series.map((b) => (
            <tr key={b.start}>
              <td>{new Date(b.start).toISOString().slice(0, 16).replace("T", " ")}</td>
              <td>{b.succeeded}</td>
              <td>{b.failed}</td>
              <td>{b.open}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
