import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clearMocks, mockConvertFileSrc, mockIPC, mockWindows } from '@tauri-apps/api/mocks';
import { emit } from '@tauri-apps/api/event';
import { api, ApiError, events, thumbUrl, originalUrl, viewerUrl } from '../src/lib/api';
import { docAt } from './fixtures';

beforeEach(() => mockWindows('main'));
afterEach(() => clearMocks());

describe('api', () => {
  it('calls commands with their argument names as the Rust side expects', async () => {
    const calls: [string, unknown][] = [];
    mockIPC((cmd, args) => {
      calls.push([cmd, args]);
      return cmd === 'list_documents' ? [] : 'changed';
    });
    await api.listDocuments('p1', 'archived');
    await api.archiveDocument('d1', 'blurred');
    await api.linkDocument('d1', 'plan_item', 'i1', 'after');
    expect(calls).toEqual([
      ['list_documents', { patientId: 'p1', status: 'archived', limit: null }],
      ['archive_document', { id: 'd1', reason: 'blurred' }],
      ['link_document', { documentId: 'd1', ownerType: 'plan_item', ownerId: 'i1', role: 'after' }],
    ]);
  });

  it('turns a refusal into an ApiError with its stable code and message', async () => {
    mockIPC(() => {
      throw { code: 'link_refused', message: 'the plan item belongs to another patient' };
    });
    const err = await api.linkDocument('d', 'plan_item', 'x', null).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.code).toBe('link_refused');
    expect(err.message).toBe('the plan item belongs to another patient');
  });

  it('reports a backend that does not answer as ipc_failed', async () => {
    mockIPC(() => {
      throw new Error('boom');
    });
    const err = await api.listPatients().catch((e) => e);
    expect(err.code).toBe('ipc_failed');
  });

  it('delivers progress events to listeners', async () => {
    mockIPC(() => null, { shouldMockEvents: true });
    const seen: number[] = [];
    const un = await events.onImportProgress((e) => seen.push(e.done));
    await emit('import-progress', { import_id: 'i', done: 1, total: 2, result: {} });
    await emit('import-progress', { import_id: 'i', done: 2, total: 2, result: {} });
    un();
    expect(seen).toEqual([1, 2]);
  });
});

describe('media URLs', () => {
  it('address thumbnails and originals through the media: scheme', () => {
    mockConvertFileSrc('linux');
    expect(thumbUrl('abc', 256)).toBe('media://localhost/thumb%2Fabc%2F256');
    expect(originalUrl('abc')).toBe('media://localhost/original%2Fabc');
  });

  it('show originals the webview can draw, and the largest preview of the rest', () => {
    mockConvertFileSrc('linux');
    const jpeg = docAt(1, null);
    expect(viewerUrl(jpeg)).toBe(originalUrl('doc-1'));
    expect(viewerUrl({ ...jpeg, mime: 'application/dicom' })).toBe(thumbUrl('doc-1', 2048));
    expect(viewerUrl({ ...jpeg, mime: 'application/pdf' })).toBeNull();
  });
});
