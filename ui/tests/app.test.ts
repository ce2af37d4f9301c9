// The whole App mounted in jsdom over a mocked backend: the patient list, opening a patient,
// and the gallery's tiles.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { flushSync, mount, unmount } from 'svelte';
import { clearMocks, mockConvertFileSrc, mockIPC, mockWindows } from '@tauri-apps/api/mocks';
import App from '../src/App.svelte';
import { emit } from '@tauri-apps/api/event';
import { docAt } from './fixtures';
import type { InboxFile, Patient, Permission, SessionState, ToothChart } from '../src/lib/bindings';
import { who } from '../src/lib/session.svelte';

const CHART: ToothChart = { notation: 'fdi', teeth: [{ fdi: 16, label: '16', quadrant: 1, position: 6, primary: false }] };
const EVERYTHING: Permission[] = ['view_images', 'acquire', 'edit_metadata', 'adjust', 'archive', 'restore', 'move', 'export', 'sign', 'manage_patients', 'manage_users', 'configure', 'view_audit'];
/** A library made before users: its one identity may do everything (what Root loads first). */
const BEFORE_USERS: SessionState = { users: false, user: null, role: null, permissions: EVERYTHING, locked: false, lock_after_seconds: 300 };
const ANA: Patient = { id: 'p1', clinic_id: 'c', name: 'Ana Kovač', external_id: 'C-1', birth_date: null, created_at: '', updated_at: '' };

/** The App mounted over a mocked backend: `answers` first, then what every screen asks for. */
function mountApp(documents: number, answers: (cmd: string, args: unknown) => unknown) {
  mockWindows('main');
  mockConvertFileSrc('linux');
  who.session = BEFORE_USERS;
  mockIPC(
    (cmd, args) => {
      const answer = answers(cmd, args);
      if (answer !== undefined) return answer;
      switch (cmd) {
        case 'library_status':
          return { data_dir: '/lib', documents, thumbnails_in_progress: 0, user: 'dr', workstation: 'w', version: '0' };
        case 'app_ready':
          return { startup_ms: 5 };
        case 'inbox_files':
          return [];
        case 'tooth_chart':
          return CHART;
        default:
          return null;
      }
    },
    { shouldMockEvents: true },
  );
  const target = document.createElement('div');
  document.body.appendChild(target);
  return { target, app: mount(App, { target }) };
}

beforeAll(() => {
  // jsdom has no layout: a fixed-size viewport for the virtualized grid.
  globalThis.ResizeObserver = class {
    constructor(private cb: ResizeObserverCallback) {}
    observe(el: Element) {
      Object.defineProperty(el, 'clientWidth', { value: 1000, configurable: true });
      Object.defineProperty(el, 'clientHeight', { value: 700, configurable: true });
      this.cb([], this as unknown as ResizeObserver);
    }
    unobserve() {}
    disconnect() {}
  };
});
afterEach(() => clearMocks());

const until = async (f: () => boolean, what: string) => {
  for (let i = 0; i < 100; i++) {
    flushSync();
    if (f()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out: ${what}`);
};

describe('App', () => {
  it('lists patients, opens one and shows its photos grouped by day', async () => {
    const docs = Array.from({ length: 300 }, (_, i) => docAt(i, new Date(Date.UTC(2026, 5, 1 + Math.floor(i / 10))).toISOString()));
    docs.reverse(); // the backend lists newest first
    const limits: unknown[] = [];
    const { target, app } = mountApp(300, (cmd, args) => {
      if (cmd === 'list_patients') return [ANA];
      if (cmd === 'list_documents') {
        const limit = (args as { limit: number | null }).limit;
        limits.push(limit);
        return limit === null ? docs : docs.slice(0, limit);
      }
      return undefined;
    });
    await until(() => target.querySelector('.patient') !== null, 'patient listed');
    expect(target.querySelector('[data-testid=doc-count]')?.textContent).toBe('300 documents');
    (target.querySelector('.patient') as HTMLButtonElement).click();
    await until(() => target.querySelectorAll('.tile').length > 0, 'tiles shown');
    const tiles = target.querySelectorAll('.tile');
    // Virtualized: a viewport's worth of the 300, not all of them.
    expect(tiles.length).toBeGreaterThan(5);
    expect(tiles.length).toBeLessThan(80);
    expect(target.querySelector('.header h3')?.textContent).toContain('2026');
    // Newest day first; within a day, the listing's order.
    // The version in the address: an edited photo's new thumbnail is fetched, not the cached one.
    expect(target.querySelector('.tile img')?.getAttribute('src')).toMatch(/^media:\/\/localhost\/thumb%2Fdoc-299%2F256\?v=\d+$/);
    expect(target.textContent).not.toMatch(/delete/i);
    // A screenful first, then the whole list, whose count is shown once it is complete.
    await until(() => limits.length === 2, 'the whole list asked for');
    expect(limits).toEqual([120, null]);
    await until(() => target.querySelector('.chip .count')?.textContent === '300', 'the count of all 300');
    unmount(app);
  });

  it('opens on the patient in the chair, follows the bridge, and counts the Unassigned tray', async () => {
    const bruno: Patient = { ...ANA, id: 'p2', name: 'Bruno Díaz', external_id: 'C-2' };
    let tray: InboxFile[] = [];
    const { target, app } = mountApp(0, (cmd) => {
      switch (cmd) {
        case 'list_patients':
          return [ANA, bruno];
        case 'get_active_patient':
          return ANA;
        case 'inbox_files':
          return tray;
        case 'list_documents':
          return [];
        default:
          return undefined;
      }
    });
    await until(() => target.querySelector('[data-testid=patient-name]')?.textContent === 'Ana Kovač', 'the active patient opened');
    expect(target.querySelector('[data-testid=in-chair]')?.textContent?.trim()).toBe('In the chair: Ana Kovač');
    expect(target.querySelector('[data-testid=chair-badge]')).not.toBeNull();

    // A file arrives with nobody in the chair: the tray shows it.
    tray = [{ path: '/in/IMG_1.jpg', folder: '/in', status: 'waiting', patient_id: null, document_id: null, error: null, moved_to: null, byte_size: 1000, updated_at: '', series_slot: null }];
    await emit('inbox', { event: 'files', files: tray });
    await until(() => target.querySelector('[data-testid=tray-entry] .count')?.textContent === '1', 'tray count');
    expect(target.textContent).toContain('waiting in Unassigned');

    // The practice software opens another patient.
    await emit('active-patient', { patient: bruno, from_bridge: true });
    await until(() => target.querySelector('[data-testid=patient-name]')?.textContent === 'Bruno Díaz', 'the bridge switched patient');
    expect(target.querySelector('[data-testid=in-chair]')?.textContent?.trim()).toBe('In the chair: Bruno Díaz');
    unmount(app);
  });

  it('shows the front desk why no images are shown, and never asks for them', async () => {
    const asked: string[] = [];
    const { target, app } = mountApp(3, (cmd) => {
      asked.push(cmd);
      if (cmd === 'list_patients') return [ANA];
      if (cmd === 'list_documents') return [docAt(0, '2026-06-01T00:00:00Z')];
      return undefined;
    });
    who.session = { users: true, user: 'fran', role: 'front_desk', permissions: ['manage_patients'], locked: false, lock_after_seconds: 300 };
    await until(() => target.querySelector('.patient') !== null, 'patient listed');
    (target.querySelector('.patient') as HTMLButtonElement).click();
    await until(() => target.querySelector('[data-testid=no-images]') !== null, 'the refusal explained');
    expect(target.querySelector('[data-testid=no-images]')?.textContent).toContain('fran (front desk) may not view images');
    expect(target.querySelectorAll('.tile').length).toBe(0);
    expect(asked).not.toContain('list_documents');
    unmount(app);
  });
});
