// The gallery's pure logic: filtering, sorting, grouping by capture day and laying out
// fixed-height rows for the virtualized grid. No DOM here, so it is tested directly.
import type { GalleryItem, Kind } from './bindings';

export type SortOrder = 'newest' | 'oldest' | 'kind';
export type KindFilter = Kind | 'all';

export const KINDS: { value: Kind; label: string }[] = [
  { value: 'intraoral', label: 'Intraoral' },
  { value: 'extraoral', label: 'Extraoral' },
  { value: 'xray', label: 'X-ray' },
  { value: 'document', label: 'Document' },
  { value: 'other', label: 'Other' },
];

export function kindLabel(kind: Kind): string {
  return KINDS.find((k) => k.value === kind)?.label ?? kind;
}

/** The capture day of a document (local calendar day), or '' when unknown. */
export function dayOf(doc: GalleryItem): string {
  if (!doc.captured_at) return '';
  const d = new Date(doc.captured_at);
  if (Number.isNaN(d.getTime())) return doc.captured_at.slice(0, 10);
  const m = String(d.getMonth() + 1).padStart(2, '0');
  const day = String(d.getDate()).padStart(2, '0');
  return `${d.getFullYear()}-${m}-${day}`;
}

export function filterAndSort(docs: GalleryItem[], kind: KindFilter, order: SortOrder): GalleryItem[] {
  const out = kind === 'all' ? docs.slice() : docs.filter((d) => d.kind === kind);
  const time = (d: GalleryItem) => d.captured_at ?? '';
  if (order === 'newest') out.sort((a, b) => (time(a) < time(b) ? 1 : time(a) > time(b) ? -1 : 0));
  else if (order === 'oldest') out.sort((a, b) => (time(a) < time(b) ? -1 : time(a) > time(b) ? 1 : 0));
  else out.sort((a, b) => a.kind.localeCompare(b.kind) || (time(a) < time(b) ? 1 : time(a) > time(b) ? -1 : 0));
  return out;
}

export function countByKind(docs: GalleryItem[]): Record<KindFilter, number> {
  const counts: Record<KindFilter, number> = { all: docs.length, intraoral: 0, extraoral: 0, xray: 0, document: 0, other: 0 };
  for (const d of docs) counts[d.kind] += 1;
  return counts;
}

export interface Group {
  /** The capture day (YYYY-MM-DD), or '' for documents without one. */
  day: string;
  /** The kind, when the gallery is sorted by kind. */
  label: string;
  docs: GalleryItem[];
}

/** Consecutive documents of the same day (or kind, when sorted by kind) form a group. */
export function groupDocs(docs: GalleryItem[], order: SortOrder): Group[] {
  const groups: Group[] = [];
  let lastKey: string | null = null;
  for (const doc of docs) {
    const key = order === 'kind' ? doc.kind : dayOf(doc);
    if (key === lastKey) {
      groups[groups.length - 1].docs.push(doc);
      continue;
    }
    lastKey = key;
    groups.push(
      order === 'kind'
        ? { day: '', label: kindLabel(doc.kind), docs: [doc] }
        : { day: key, label: dayLabel(key), docs: [doc] },
    );
  }
  return groups;
}

// One formatter for every header: building an Intl formatter per call costs more than the
// formatting, and a long gallery has hundreds of capture days.
const DAY_LABEL = new Intl.DateTimeFormat('en-GB', { weekday: 'short', day: 'numeric', month: 'long', year: 'numeric' });

export function dayLabel(day: string): string {
  if (!day) return 'Capture date unknown';
  const [y, m, d] = day.split('-').map(Number);
  const date = new Date(y, m - 1, d);
  return DAY_LABEL.format(date);
}

export type Row =
  | { type: 'header'; key: string; label: string; count: number; top: number; height: number }
  | { type: 'tiles'; key: string; docs: GalleryItem[]; top: number; height: number };

export interface Layout {
  rows: Row[];
  height: number;
  columns: number;
  /** Tiles grow from `minTile` to fill the width exactly. */
  tile: number;
}

export const HEADER_HEIGHT = 44;

/** Rows of square tiles under a header per group, with their offsets. */
export function layoutRows(groups: Group[], width: number, minTile: number, gap: number): Layout {
  const columns = Math.max(1, Math.floor((width + gap) / (minTile + gap)));
  const tile = Math.max(minTile, Math.floor((width - gap * (columns - 1)) / columns));
  const rows: Row[] = [];
  let top = 0;
  for (const g of groups) {
    rows.push({ type: 'header', key: `h:${g.day}:${g.label}`, label: g.label, count: g.docs.length, top, height: HEADER_HEIGHT });
    top += HEADER_HEIGHT;
    for (let i = 0; i < g.docs.length; i += columns) {
      const docs = g.docs.slice(i, i + columns);
      rows.push({ type: 'tiles', key: `t:${docs[0].id}`, docs, top, height: tile + gap });
      top += tile + gap;
    }
  }
  return { rows, height: top, columns, tile };
}

/** The rows to render for a viewport: those it touches, plus `overscan` rows either side. */
export function visibleRows(rows: Row[], scrollTop: number, viewport: number, overscan = 2): [number, number] {
  if (rows.length === 0) return [0, 0];
  // First row whose bottom is below the top of the viewport.
  let lo = 0;
  let hi = rows.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (rows[mid].top + rows[mid].height <= scrollTop) lo = mid + 1;
    else hi = mid;
  }
  let end = lo;
  while (end < rows.length && rows[end].top < scrollTop + viewport) end += 1;
  return [Math.max(0, lo - overscan), Math.min(rows.length, end + overscan)];
}

/** Shift-click selection: the documents between the anchor and the target, inclusive. */
export function rangeBetween(docs: GalleryItem[], anchor: string, target: string): string[] {
  const a = docs.findIndex((d) => d.id === anchor);
  const b = docs.findIndex((d) => d.id === target);
  if (a < 0 || b < 0) return [target];
  const [from, to] = a < b ? [a, b] : [b, a];
  return docs.slice(from, to + 1).map((d) => d.id);
}
