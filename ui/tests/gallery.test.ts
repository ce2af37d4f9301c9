import { describe, expect, it } from 'vitest';
import { countByKind, filterAndSort, groupDocs, layoutRows, rangeBetween, visibleRows, HEADER_HEIGHT } from '../src/lib/gallery';
import { docAt } from './fixtures';

const docs = [
  docAt(1, '2026-11-20T10:00:00Z', 'xray'),
  docAt(2, '2026-11-18T09:00:00Z'),
  docAt(3, '2026-11-20T11:00:00Z', 'extraoral'),
  docAt(4, null),
];

describe('filterAndSort', () => {
  it('sorts newest first with undated documents last, and oldest first the other way', () => {
    expect(filterAndSort(docs, 'all', 'newest').map((d) => d.id)).toEqual(['doc-3', 'doc-1', 'doc-2', 'doc-4']);
    expect(filterAndSort(docs, 'all', 'oldest').map((d) => d.id)).toEqual(['doc-4', 'doc-2', 'doc-1', 'doc-3']);
  });

  it('filters by kind without touching the input', () => {
    expect(filterAndSort(docs, 'xray', 'newest').map((d) => d.id)).toEqual(['doc-1']);
    expect(docs.map((d) => d.id)).toEqual(['doc-1', 'doc-2', 'doc-3', 'doc-4']);
  });

  it('counts every kind', () => {
    expect(countByKind(docs)).toEqual({ all: 4, intraoral: 2, extraoral: 1, xray: 1, document: 0, other: 0 });
  });
});

describe('groupDocs', () => {
  it('groups consecutive documents by capture day, undated ones under their own header', () => {
    const groups = groupDocs(filterAndSort(docs, 'all', 'newest'), 'newest');
    expect(groups.map((g) => [g.day, g.docs.length])).toEqual([
      ['2026-11-20', 2],
      ['2026-11-18', 1],
      ['', 1],
    ]);
    expect(groups[2].label).toBe('Capture date unknown');
  });

  it('groups by kind when sorted by kind', () => {
    const groups = groupDocs(filterAndSort(docs, 'all', 'kind'), 'kind');
    expect(groups.map((g) => g.label)).toEqual(['Extraoral', 'Intraoral', 'X-ray']);
  });
});

describe('layout and virtualization', () => {
  const many = Array.from({ length: 5000 }, (_, i) => docAt(i, new Date(Date.UTC(2026, 0, 1 + Math.floor(i / 40))).toISOString()));
  const layout = layoutRows(groupDocs(filterAndSort(many, 'all', 'newest'), 'newest'), 1000, 176, 12);

  it('fills the width with whole tiles', () => {
    expect(layout.columns).toBe(5);
    expect(layout.tile * layout.columns + 12 * (layout.columns - 1)).toBeLessThanOrEqual(1000);
    expect(layout.tile).toBeGreaterThanOrEqual(176);
  });

  it('lays every document out exactly once, rows stacked without gaps', () => {
    const ids = layout.rows.flatMap((r) => (r.type === 'tiles' ? r.docs.map((d) => d.id) : []));
    expect(new Set(ids).size).toBe(5000);
    for (let i = 1; i < layout.rows.length; i++) {
      expect(layout.rows[i].top).toBe(layout.rows[i - 1].top + layout.rows[i - 1].height);
    }
    expect(layout.rows.filter((r) => r.type === 'header').every((r) => r.height === HEADER_HEIGHT)).toBe(true);
  });

  it('renders only the rows in view, wherever the scroll is', () => {
    for (const top of [0, 12345, layout.height / 2, layout.height - 700]) {
      const [from, to] = visibleRows(layout.rows, top, 700, 2);
      expect(to - from).toBeLessThanOrEqual(12);
      // The viewport is covered: the first shown row starts above it, the last ends below.
      expect(layout.rows[from].top).toBeLessThanOrEqual(top);
      const last = layout.rows[to - 1];
      expect(last.top + last.height >= Math.min(top + 700, layout.height)).toBe(true);
    }
    expect(visibleRows([], 0, 700)).toEqual([0, 0]);
  });
});

describe('rangeBetween', () => {
  it('selects the span between anchor and target in either direction', () => {
    const list = filterAndSort(docs, 'all', 'newest');
    expect(rangeBetween(list, 'doc-3', 'doc-2')).toEqual(['doc-3', 'doc-1', 'doc-2']);
    expect(rangeBetween(list, 'doc-2', 'doc-3')).toEqual(['doc-3', 'doc-1', 'doc-2']);
    expect(rangeBetween(list, 'gone', 'doc-2')).toEqual(['doc-2']);
  });
});
