// App-wide state shared by the screens (Svelte 5 runes).
import type { FileResult, ImportProgressEvent } from './bindings';

export type Toast = { id: number; kind: 'error' | 'info'; text: string };

export const toasts = $state<Toast[]>([]);
let nextToast = 1;

export function toast(text: string, kind: Toast['kind'] = 'info', ms = kind === 'error' ? 8000 : 3500): void {
  const id = nextToast++;
  toasts.push({ id, kind, text });
  // A burst of actions shows its latest outcomes, not a wall of messages.
  while (toasts.length > 3) toasts.shift();
  setTimeout(() => dismiss(id), ms);
}

export function dismiss(id: number): void {
  const i = toasts.findIndex((t) => t.id === id);
  if (i >= 0) toasts.splice(i, 1);
}

/** One import as the progress panel shows it. */
export interface ImportJob {
  id: string;
  patientId: string;
  total: number;
  done: number;
  results: FileResult[];
  finished: boolean;
}

export const imports = $state<ImportJob[]>([]);

export function startImport(id: string, patientId: string, files: number): ImportJob {
  imports.unshift({ id, patientId, total: files, done: 0, results: [], finished: false });
  return imports[0];
}

/** Applies a progress event; returns the job it belongs to, if shown. */
export function applyProgress(e: ImportProgressEvent): ImportJob | undefined {
  const job = imports.find((j) => j.id === e.import_id);
  if (!job) return undefined;
  job.total = e.total;
  job.done = Math.max(job.done, e.done);
  job.results.push(e.result);
  return job;
}

export function finishImport(id: string): void {
  const job = imports.find((j) => j.id === id);
  if (job) job.finished = true;
}

export function clearFinishedImports(): void {
  for (let i = imports.length - 1; i >= 0; i--) if (imports[i].finished) imports.splice(i, 1);
}

export type Theme = 'dark' | 'light';

export function loadTheme(): Theme {
  const saved = typeof localStorage !== 'undefined' ? localStorage.getItem('chairside.theme') : null;
  return saved === 'light' ? 'light' : 'dark';
}

export function applyTheme(theme: Theme): void {
  document.documentElement.dataset.theme = theme;
  try {
    localStorage.setItem('chairside.theme', theme);
  } catch {
    // Private storage off: the theme just isn't remembered.
  }
}

/** Benchmark marks read by the end-to-end runs (time to first painted row; frames of live
 * windowing drawn, and the last one's time; a 3D model's open to its first frame shown). */
export const metrics: {
  patientOpenedAt?: number;
  firstRowMs?: number;
  meshOpenedAt?: number;
  meshReadyMs?: number;
  listMs?: number;
  maxDomNodes?: number;
  windowFrames?: number;
  windowDrawMs?: number;
} = {};
(globalThis as unknown as { __chairsideMetrics: typeof metrics }).__chairsideMetrics = metrics;
