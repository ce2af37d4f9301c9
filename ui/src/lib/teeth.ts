// Tooth numbers as the UI shows them: the library stores FDI codes ("16,26"); the chart the
// backend sends labels each tooth in the clinic's notation. No conversion rules live here.
import type { ToothLabel } from './bindings';

/** FDI code → label, from the chart. */
export type Labels = Map<number, string>;

export function labelsOf(teeth: ToothLabel[]): Labels {
  return new Map(teeth.map((t) => [t.fdi, t.label]));
}

/** The FDI codes of a stored value; anything unreadable is skipped. */
export function codesOf(stored: string | null | undefined): number[] {
  if (!stored) return [];
  return stored
    .split(',')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
}

/** A stored value written in the clinic's notation, e.g. "UR6, UL6". */
export function formatTeeth(stored: string | null | undefined, labels: Labels): string {
  return codesOf(stored)
    .map((c) => labels.get(c) ?? String(c))
    .join(', ');
}

/** What the backend reads back: the labels of `codes`, space-separated. */
export function teethInput(codes: Iterable<number>, labels: Labels): string {
  return [...codes]
    .sort((a, b) => a - b)
    .map((c) => labels.get(c) ?? String(c))
    .join(' ');
}

/**
 * The chart as seen facing the patient: the patient's right on the viewer's left. Rows of FDI
 * codes: upper (quadrant 1 from the back to the midline, then quadrant 2), lower (4, then 3).
 */
export function chartRows(primary: boolean): number[][] {
  const side = (q: number, n: number, outward: boolean) => {
    const codes = Array.from({ length: n }, (_, i) => q * 10 + i + 1);
    return outward ? codes : codes.reverse();
  };
  const [n, q1, q2, q3, q4] = primary ? [5, 5, 6, 7, 8] : [8, 1, 2, 3, 4];
  return [
    [...side(q1, n, false), ...side(q2, n, true)],
    [...side(q4, n, false), ...side(q3, n, true)],
  ];
}

/** Teeth present in a set of documents, in FDI order: the gallery's tooth filter offers these. */
export function teethPresent(docs: { teeth: string | null }[]): number[] {
  const seen = new Set<number>();
  for (const d of docs) for (const c of codesOf(d.teeth)) seen.add(c);
  return [...seen].sort((a, b) => a - b);
}
