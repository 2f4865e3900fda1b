/**
 * Every figure the bench prints goes through record(): one line with the figure, its ceiling
 * measured in the same run, the ratio, and the aim (from the performance issue); summary() prints
 * them all again as a markdown table for a closing note.
 */
export interface Row {
  /** The table row, e.g. 'create Patient'. */
  name: string;
  /** sqlite, postgres, or '' where the figure does not depend on the backend. */
  backend: string;
  value: number;
  unit: string;
  /** The ceiling in the same run, or undefined for an absolute aim. */
  ceiling?: { value: number; unit: string; what: string };
  /** The aim: a ratio to the ceiling (kind 'ratio') or an absolute figure ('max' / 'min'). */
  aim: { kind: 'ratio' | 'min' | 'max'; value: number; unit?: string };
  /** Where a peer does the same work: its ratio to the same ceiling. */
  peer?: string;
  note?: string;
}

const rows: Row[] = [];

const num = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
/** Ratios below 0.1 keep three decimals, so a 0.004 is not shown as 0.00. */
const fixed = (q: number) => q.toFixed(q < 0.1 ? 3 : 2);
const ratioOf = (r: Row) => (r.ceiling && r.ceiling.value > 0 ? r.value / r.ceiling.value : undefined);

function aimText(r: Row): string {
  if (r.aim.kind === 'ratio') return `≥ ${r.aim.value.toFixed(2)} of ceiling`;
  return `${r.aim.kind === 'max' ? '≤' : '≥'} ${num(r.aim.value)} ${r.aim.unit ?? r.unit} (absolute)`;
}

function met(r: Row): boolean | undefined {
  if (r.aim.kind === 'ratio') { const q = ratioOf(r); return q === undefined ? undefined : q >= r.aim.value; }
  return r.aim.kind === 'max' ? r.value <= r.aim.value : r.value >= r.aim.value;
}

const mark = (r: Row) => { const m = met(r); return m === undefined ? '?' : m ? 'met' : 'NOT met'; };

export function record(r: Row): void {
  rows.push(r);
  const q = ratioOf(r);
  const ceiling = r.ceiling ? `ceiling ${num(r.ceiling.value)} ${r.ceiling.unit} (${r.ceiling.what})` : 'no ceiling (absolute aim)';
  const parts = [
    `${`${r.name}${r.backend ? ` [${r.backend}]` : ''}`.padEnd(44)} ${num(r.value).padStart(8)} ${r.unit}`,
    ceiling,
    q === undefined ? 'ratio —' : `ratio ${fixed(q)}`,
    `aim ${aimText(r)}: ${mark(r)}`,
  ];
  if (r.peer) parts.push(`peer ${r.peer}`);
  console.log(`${parts.join('  |  ')}${r.note ? `  (${r.note})` : ''}`);
}

/** A figure that could not be measured: printed and kept for the summary. */
export function skipped(name: string, backend: string, reason: string): void {
  console.log(`${name}${backend ? ` [${backend}]` : ''}: not run (${reason})`);
  rows.push({ name, backend, value: Number.NaN, unit: '', aim: { kind: 'min', value: 0 }, note: `not run: ${reason}` });
}

export function summary(): string {
  const head = '| row | backend | figure | ceiling (same run) | ratio | aim | met | peer |\n|---|---|---|---|---|---|---|---|';
  const body = rows.map((r) => {
    if (Number.isNaN(r.value)) return `| ${r.name} | ${r.backend || '—'} | ${r.note} | | | | | |`;
    const q = ratioOf(r);
    return `| ${r.name} | ${r.backend || '—'} | ${num(r.value)} ${r.unit} | ${r.ceiling ? `${num(r.ceiling.value)} ${r.ceiling.unit} (${r.ceiling.what})` : '—'} | ${q === undefined ? '—' : fixed(q)} | ${aimText(r)} | ${mark(r)} | ${r.peer ?? ''} |`;
  });
  return [head, ...body].join('\n');
}
