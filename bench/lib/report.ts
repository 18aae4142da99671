// Rows of the result table, their targets, and the table/JSON output.

export interface Row {
  name: string;
  unit: string;
  higherIsBetter: boolean;
  /** rxtls (or its rx layer, for rows marked [rx]); null when not measured. */
  rxtls: number | null;
  node: number | null;
  /** rxtls / node. */
  ratio: number | null;
  /** The C reference on the same OpenSSL family (nginx), where the scenario allows it. */
  openssl?: number | null;
  /** rxtls / nginx, where nginx ran. */
  ratioNginx?: number | null;
  /** Plain TCP (node:net / node:http): the ceiling of a TLS engine on net.Socket. */
  tcp?: number | null;
  /** The target, as text (e.g. ">= 1.5x"). */
  target?: string;
  /** Whether the target is reached in this run. */
  met?: boolean | null;
  note?: string;
}

export interface Target {
  /** ratio (rxtls/node) bound, or an absolute bound on the rxtls figure. */
  ratio?: number;
  absolute?: number;
  /** Also a bound on rxtls / nginx (met only when nginx ran), or on rxtls / tcp. */
  nginx?: number;
  tcp?: number;
  /** For a variant's row: a bound on variant / plain rxtls (as good as: for lower-is-better rows the bound is inverted). */
  base?: number;
}

export function makeRow(
  base: { name: string; unit: string; higherIsBetter: boolean },
  values: { rxtls: number | null; node: number | null; openssl?: number | null; tcp?: number | null; base?: number | null },
  target?: Target,
  note?: string,
): Row {
  const ratioOf = (other: number | null | undefined) => (values.rxtls !== null && other !== null && other !== undefined && other !== 0 ? round(values.rxtls / other, 3) : null);
  const ratio = ratioOf(values.node);
  const row: Row = { ...base, rxtls: values.rxtls, node: values.node, ratio };
  if (values.openssl !== undefined) {
    row.openssl = values.openssl;
    row.ratioNginx = ratioOf(values.openssl);
  }
  if (values.tcp !== undefined) row.tcp = values.tcp;
  if (target) {
    const cmp = base.higherIsBetter ? '>=' : '<=';
    const holds = (r: number | null, bound: number) => (r === null ? null : base.higherIsBetter ? r >= bound : r <= bound);
    const parts: string[] = [];
    const checks: Array<boolean | null> = [];
    if (target.ratio !== undefined) {
      parts.push(`${cmp} ${target.ratio}x`);
      checks.push(holds(ratio, target.ratio));
    } else if (target.absolute !== undefined) {
      parts.push(`${base.higherIsBetter ? '>=' : '<'} ${target.absolute} ${base.unit}`);
      checks.push(values.rxtls === null ? null : base.higherIsBetter ? values.rxtls >= target.absolute : values.rxtls < target.absolute);
    }
    if (target.nginx !== undefined) {
      parts.push(`${cmp} ${target.nginx}x nginx`);
      checks.push(holds(ratioOf(values.openssl), target.nginx));
    }
    if (target.tcp !== undefined) {
      parts.push(`${cmp} ${target.tcp}x tcp`);
      checks.push(holds(ratioOf(values.tcp), target.tcp));
    }
    if (target.base !== undefined) {
      const bound = base.higherIsBetter ? target.base : round(1 / target.base, 2);
      parts.push(`${cmp} ${bound}x rxtls`);
      checks.push(holds(ratioOf(values.base), bound));
    }
    row.target = parts.join(', ');
    row.met = checks.includes(false) ? false : checks.includes(null) ? null : true;
  }
  if (note) row.note = note;
  return row;
}

export function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** Three significant digits, thousands separated: figures, not noise. */
export function fmt(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-';
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toFixed(3);
}

export function table(rows: readonly Row[]): string {
  const head = ['scenario', 'unit', 'rxtls', 'node:tls', 'ratio', 'target', 'met', 'tcp', 'nginx', 'vs nginx'];
  const body = rows.map((r) => [
    r.name,
    r.unit,
    fmt(r.rxtls),
    fmt(r.node),
    r.ratio === null ? '-' : `${r.ratio.toFixed(2)}x`,
    r.target ?? '',
    r.met === undefined ? '' : r.met === null ? 'n/a' : r.met ? 'yes' : 'NO',
    fmt(r.tcp),
    fmt(r.openssl),
    r.ratioNginx === null || r.ratioNginx === undefined ? '-' : `${r.ratioNginx.toFixed(2)}x`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const numeric = new Set([2, 3, 4, 7, 8, 9]);
  const line = (cells: string[]) =>
    cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const out = [line(head), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const b of body) out.push(line(b));
  const notes = rows.filter((r) => r.note).map((r) => `  * ${r.name}: ${r.note}`);
  if (notes.length) out.push('', 'notes:', ...notes);
  return out.join('\n');
}
