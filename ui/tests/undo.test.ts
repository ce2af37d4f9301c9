import { describe, expect, it } from 'vitest';
import type { AdjustInput, AnnotationInput } from '../src/lib/bindings';
import { NO_ADJUSTMENTS, cropFrom, straightenFrom } from '../src/lib/geometry';
import { EditHistory, restoreInput, type Editor } from '../src/lib/undo';

/** An editor over an in-memory document, as the backend keeps it. */
function fake() {
  const doc = { adjustments: { ...NO_ADJUSTMENTS }, annotations: new Map<string, AnnotationInput>(), next: 1, calls: [] as string[] };
  const editor: Editor = {
    async adjust(change: AdjustInput) {
      doc.calls.push('adjust');
      const base = change.reset ? { ...NO_ADJUSTMENTS } : doc.adjustments;
      const { reset: _reset, preset, ...fields } = change;
      doc.adjustments = { ...base, ...fields, preset: preset ?? null };
    },
    async annotate(item) {
      const id = `a${doc.next++}`;
      doc.annotations.set(id, item);
      doc.calls.push(`add ${id}`);
      return id;
    },
    async remove(id) {
      if (!doc.annotations.delete(id)) throw new Error(`no annotation ${id}`);
      doc.calls.push(`remove ${id}`);
    },
  };
  return { doc, editor };
}

const arrow: AnnotationInput = { type: 'arrow', points: [[1, 2], [3, 4]], text: null, color: null, width: null };

describe('undo and redo of the viewer edits', () => {
  it('puts the adjustments back exactly, and forward again', async () => {
    const { doc, editor } = fake();
    const h = new EditHistory();
    const turned = { ...NO_ADJUSTMENTS, rotate: 90, window: [1200, 800] as [number, number] };
    await editor.adjust({ reset: false, rotate: 90, window: [1200, 800] });
    h.record({ kind: 'adjust', before: NO_ADJUSTMENTS, after: turned });
    expect(await h.undo(editor)).toBe(true);
    expect(doc.adjustments).toEqual(NO_ADJUSTMENTS);
    expect(h.canUndo).toBe(false);
    expect(await h.redo(editor)).toBe(true);
    expect(doc.adjustments).toEqual(turned);
    expect(await h.redo(editor)).toBe(false);
  });

  it('removes an added annotation, adds it back under its new id, and a removal undone is added back', async () => {
    const { doc, editor } = fake();
    const h = new EditHistory();
    h.record({ kind: 'annotate', item: arrow, id: await editor.annotate(arrow) });
    await h.undo(editor);
    expect(doc.annotations.size).toBe(0);
    await h.redo(editor);
    await h.undo(editor); // removes the re-added one (a2), not the first id
    expect(doc.calls).toEqual(['add a1', 'remove a1', 'add a2', 'remove a2']);
    await editor.annotate(arrow); // a3
    await editor.remove('a3');
    h.record({ kind: 'remove', item: arrow, id: 'a3' });
    expect(h.canRedo).toBe(false); // a new edit drops what was undone
    await h.undo(editor);
    expect([...doc.annotations.values()]).toEqual([arrow]);
  });

  it('keeps an edit the backend refused to undo where it was', async () => {
    const { editor } = fake();
    const h = new EditHistory();
    h.record({ kind: 'annotate', item: arrow, id: 'gone' });
    await expect(h.undo(editor)).rejects.toThrow('no annotation gone');
    expect(h.canUndo).toBe(true);
    expect(h.canRedo).toBe(false);
  });

  it('records no change as no edit, and restores a preset by name', () => {
    const h = new EditHistory();
    h.record({ kind: 'adjust', before: NO_ADJUSTMENTS, after: { ...NO_ADJUSTMENTS } });
    expect(h.canUndo).toBe(false);
    expect(restoreInput({ ...NO_ADJUSTMENTS, contrast: 30, preset: 'Endo' })).toMatchObject({ reset: true, contrast: 30, preset: 'Endo' });
    expect(restoreInput(NO_ADJUSTMENTS)).not.toHaveProperty('preset');
  });
});

describe('straighten and crop from clicks', () => {
  it('levels a line drawn along the occlusal plane, or plumbs one nearer upright', () => {
    expect(straightenFrom([0, 0], [100, 10])).toBeCloseTo(-5.71, 2);
    expect(straightenFrom([100, 10], [0, 0])).toBeCloseTo(-5.71, 2);
    expect(straightenFrom([0, 0], [-10, 100])).toBeCloseTo(-5.71, 2);
    expect(straightenFrom([0, 0], [100, 0])).toBe(0);
  });

  it('crops the rectangle two corners span, inside the image, and refuses a sliver', () => {
    expect(cropFrom(NO_ADJUSTMENTS, 400, 300, [350.2, 40.7], [-20, 260.1])).toEqual([0, 40, 351, 221]);
    expect(cropFrom(NO_ADJUSTMENTS, 400, 300, [10, 10], [12, 200])).toBeNull();
    // Straightened: the corners are taken through the turn about the centre.
    const c = cropFrom({ ...NO_ADJUSTMENTS, straighten: 90 }, 400, 400, [0, 0], [100, 50]);
    expect(c).toEqual([350, 0, 50, 100]);
  });
});
