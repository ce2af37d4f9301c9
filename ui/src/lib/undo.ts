// Undo and redo of the viewer's edits while it is open: each edit is recorded with what undoes
// it, per document. Undoing is itself an edit the backend records (the history keeps both);
// nothing is ever taken out of the record.
import type { AdjustInput, Adjustments, Annotation, AnnotationInput } from './bindings';

export type Edit =
  | { kind: 'adjust'; before: Adjustments; after: Adjustments }
  /** An annotation added; `id` is the live one's (redo adds it again under a new id). */
  | { kind: 'annotate'; item: AnnotationInput; id: string }
  | { kind: 'remove'; item: AnnotationInput; id: string };

/** What the history needs from the backend. */
export interface Editor {
  adjust(change: AdjustInput): Promise<void>;
  /** Adds an annotation and answers its id. */
  annotate(item: AnnotationInput): Promise<string>;
  remove(annotationId: string): Promise<void>;
}

/** The change that puts a document's adjustments back to `a` exactly. */
export function restoreInput(a: Adjustments): AdjustInput {
  const { preset, ...fields } = a;
  return { ...fields, reset: true, ...(preset ? { preset } : {}) };
}

/** An annotation as it would be added again. */
export function inputOf(a: Annotation): AnnotationInput {
  return { type: a.type, points: a.points, text: a.text, color: a.color, width: a.width };
}

const LIMIT = 100;

export class EditHistory {
  private done: Edit[] = [];
  private undone: Edit[] = [];

  get canUndo(): boolean {
    return this.done.length > 0;
  }
  get canRedo(): boolean {
    return this.undone.length > 0;
  }

  /** A new edit: what was undone can no longer be redone. */
  record(edit: Edit) {
    if (edit.kind === 'adjust' && JSON.stringify(edit.before) === JSON.stringify(edit.after)) return;
    this.done.push(edit);
    if (this.done.length > LIMIT) this.done.shift();
    this.undone = [];
  }

  /** Undoes the last edit; false when there is none. On a refusal the edit stays where it was. */
  async undo(editor: Editor): Promise<boolean> {
    const edit = this.done.at(-1);
    if (!edit) return false;
    await step(editor, edit, 'undo');
    this.done.pop();
    this.undone.push(edit);
    return true;
  }

  async redo(editor: Editor): Promise<boolean> {
    const edit = this.undone.at(-1);
    if (!edit) return false;
    await step(editor, edit, 'redo');
    this.undone.pop();
    this.done.push(edit);
    return true;
  }
}

async function step(editor: Editor, edit: Edit, way: 'undo' | 'redo') {
  if (edit.kind === 'adjust') return editor.adjust(restoreInput(way === 'undo' ? edit.before : edit.after));
  // Undoing an addition removes it, undoing a removal adds it back; redo the other way round.
  const adds = (edit.kind === 'remove') === (way === 'undo');
  if (adds) edit.id = await editor.annotate(edit.item);
  else await editor.remove(edit.id);
}
