/**
 * The shell every report page shares: one HTML document with its stylesheet inline and a Content-Security-Policy
 * that forbids scripts and every load, plus the blocks both report kinds are made of (summary tiles, tables,
 * sections, the status notice and the findings). Strings passed as text are escaped here; only values marked
 * `{ html }` (markup built by these modules) go in as they are.
 */
import type { ResourceStatus } from '../../storage/manifests.js';
import type { Finding } from '../../storage/report-manifests.js';
import { escapeHtml, formatNumber } from './escape.js';

/** A table cell: text (escaped), a number (formatted), a flag, nothing (—), or markup built by these modules. */
export type Cell = string | number | boolean | null | undefined | { html: string };

const STYLE = `
:root { color-scheme: light; --fg: #1d1d1f; --muted: #666; --line: #ddd; --bg: #fff; --soft: #f6f7f9;
  --critical: #b3261e; --warning: #a15c00; --info: #0b5cad; --ok: #1e7a3c; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
main { max-width: 1120px; margin: 0 auto; padding: 24px 20px 48px; }
header.report { border-bottom: 1px solid var(--line); padding-bottom: 12px; margin-bottom: 20px; }
h1 { font-size: 22px; margin: 0 0 6px; display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
h2 { font-size: 17px; margin: 32px 0 10px; }
h3 { font-size: 15px; margin: 0; }
dl.meta { display: flex; flex-wrap: wrap; gap: 4px 20px; margin: 0; color: var(--muted); }
dl.meta div { display: flex; gap: 6px; } dl.meta dt::after { content: ":"; } dl.meta dd { margin: 0; color: var(--fg); }
.status { font-size: 12px; font-weight: 600; padding: 2px 10px; border-radius: 999px; color: #fff; background: var(--muted); }
.status-ready { background: var(--ok); } .status-failed { background: var(--critical); }
.status-queued, .status-running { background: var(--info); }
.notice, .banner { padding: 12px 16px; border-radius: 6px; margin: 12px 0; border-left: 5px solid var(--info); background: #eef4fb; }
.notice-failed, .banner-drift { border-color: var(--critical); background: #fbeeed; }
.banner-clear { border-color: var(--ok); background: #edf7f0; }
.banner strong { font-size: 16px; } .notice p, .banner p { margin: 4px 0 0; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 12px; }
.tile { background: var(--soft); border-radius: 6px; padding: 10px 14px; }
.tile .label { color: var(--muted); font-size: 12px; } .tile .value { font-size: 20px; font-weight: 600; white-space: nowrap; }
.tile .hint { color: var(--muted); font-size: 12px; }
table { border-collapse: collapse; margin: 8px 0; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; } td.num { text-align: right; }
tr.flag td { background: #fdf3f2; }
.scroll { overflow-x: auto; }
.charts { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
svg.chart { max-width: 100%; height: auto; display: block; overflow: visible; }
.findings { display: grid; gap: 12px; }
.finding { border: 1px solid var(--line); border-left: 5px solid var(--info); border-radius: 6px; padding: 12px 16px; }
.finding-critical { border-left-color: var(--critical); } .finding-warning { border-left-color: var(--warning); }
.finding header { display: flex; gap: 10px; align-items: center; }
.badge { font-size: 11px; font-weight: 700; text-transform: uppercase; letter-spacing: .04em; padding: 1px 8px;
  border-radius: 4px; color: #fff; background: var(--info); }
.badge-critical { background: var(--critical); } .badge-warning { background: var(--warning); }
.finding table { font-size: 13px; } .next { margin: 6px 0 0; } .muted { color: var(--muted); }
`;

// Nothing may run or load: this is what makes the page safe to open from storage, and offline-complete.
const CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

/** A whole HTML document: heading with the status, a line of facts, then `body` (markup). */
export function renderPage(o: { title: string; status: ResourceStatus; meta: [string, string][]; body: string }): string {
  const meta = o.meta.map(([k, v]) => `<div><dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd></div>`).join('');
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8">` +
    `<meta http-equiv="Content-Security-Policy" content="${CSP}">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<title>${escapeHtml(o.title)}</title><style>${STYLE}</style></head><body><main>` +
    `<header class="report"><h1>${escapeHtml(o.title)} <span class="status status-${o.status}">${o.status}</span></h1>` +
    `<dl class="meta">${meta}</dl></header>${o.body}</main></body></html>`
  );
}

/** A titled section of the page; `body` is markup. */
export function section(title: string, body: string, id?: string): string {
  return `<section${id ? ` id="${escapeHtml(id)}"` : ''}><h2>${escapeHtml(title)}</h2>${body}</section>`;
}

/** Headline numbers as tiles: label, value and an optional hint under it (all text). */
export function tiles(items: { label: string; value: string; hint?: string }[]): string {
  const tile = (t: { label: string; value: string; hint?: string }) =>
    `<div class="tile"><div class="label">${escapeHtml(t.label)}</div><div class="value">${escapeHtml(t.value)}</div>` +
    (t.hint ? `<div class="hint">${escapeHtml(t.hint)}</div>` : '') +
    `</div>`;
  return `<div class="tiles">${items.map(tile).join('')}</div>`;
}

function cell(value: Cell): string {
  if (typeof value === 'number') return `<td class="num">${formatNumber(value)}</td>`;
  if (typeof value === 'boolean') return `<td>${value ? 'yes' : 'no'}</td>`;
  if (value === null || value === undefined) return `<td class="num">—</td>`;
  return `<td>${typeof value === 'string' ? escapeHtml(value) : value.html}</td>`;
}

/** A table with a header row; rows whose index is in `flagged` are highlighted. */
export function table(headers: string[], rows: Cell[][], flagged: ReadonlySet<number> = new Set()): string {
  if (rows.length === 0) return `<p class="muted">Nothing to list.</p>`;
  const head = `<tr>${headers.map((h) => `<th scope="col">${escapeHtml(h)}</th>`).join('')}</tr>`;
  const body = rows.map((r, i) => `<tr${flagged.has(i) ? ' class="flag"' : ''}>${r.map(cell).join('')}</tr>`).join('');
  return `<div class="scroll"><table><thead>${head}</thead><tbody>${body}</tbody></table></div>`;
}

/** Charts side by side, wrapping to the width of the page. */
export function charts(svgs: string[]): string {
  return `<div class="charts">${svgs.join('')}</div>`;
}

const WAITING: Record<ResourceStatus, string> = {
  queued: 'This report is queued; its results appear here once a worker has computed them.',
  running: 'This report is being computed; reload the page in a moment for its results.',
  ready: 'This report is finished but holds no results.',
  failed: 'This report failed before it produced results.',
  cancelled: 'This report was cancelled before it produced results.',
};

/** Why results are missing (status, and the error when there is one); empty for a ready report with results. */
export function statusNotice(status: ResourceStatus, error: { type: string; detail: string } | undefined, hasResults: boolean): string {
  if (hasResults && !error) return '';
  const why = hasResults ? '' : `<p>${escapeHtml(WAITING[status])}</p>`;
  const err = error ? `<p><strong>${escapeHtml(error.type)}</strong>: ${escapeHtml(error.detail)}</p>` : '';
  return `<div class="notice notice-${status}" role="status">${why}${err}</div>`;
}

const RANK: Record<Finding['severity'], number> = { critical: 0, warning: 1, info: 2 };

function evidenceValue(value: Finding['evidence'][string]): string {
  if (typeof value === 'number') return formatNumber(value, 4);
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return value === null ? '—' : escapeHtml(value);
}

/** The diagnosis: each finding with its severity badge, title, detail, evidence table and next step, worst first. */
export function renderFindings(findings: Finding[]): string {
  if (findings.length === 0) return section('Findings', `<p class="muted">No findings: nothing in this report calls for action.</p>`, 'findings');
  const sorted = [...findings].sort((a, b) => RANK[a.severity] - RANK[b.severity]);
  const items = sorted.map((f) => {
    const evidence = Object.entries(f.evidence)
      .map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${evidenceValue(v)}</td></tr>`)
      .join('');
    return (
      `<article class="finding finding-${f.severity}" data-rule="${escapeHtml(f.rule)}">` +
      `<header><span class="badge badge-${f.severity}">${f.severity}</span><h3>${escapeHtml(f.title)}</h3></header>` +
      `<p>${escapeHtml(f.detail)}</p>` +
      (evidence ? `<table class="evidence"><tbody>${evidence}</tbody></table>` : '') +
      `<p class="next"><strong>Next step:</strong> ${escapeHtml(f.nextStep)}</p></article>`
    );
  });
  return section('Findings', `<div class="findings">${items.join('')}</div>`, 'findings');
}
