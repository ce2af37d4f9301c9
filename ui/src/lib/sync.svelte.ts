// The sync status the status bar and settings show: read once, then kept current by the
// backend's `sync` events (one after each round).
import { api } from './api';
import type { SyncStatus } from './bindings';

export const sync = $state<{ status: SyncStatus | null; version: number }>({ status: null, version: 0 });

export async function loadSyncStatus(): Promise<void> {
  try {
    sync.status = await api.syncStatus();
  } catch {
    // The status bar just shows nothing about sync.
  }
}

/** A round brought records or images from other workstations: views reload. */
export function syncChanged(): void {
  sync.version += 1;
}

function time(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** One short line for the status bar, a longer one for its tooltip, and the warnings apart. */
export function syncLine(s: SyncStatus | null): {
  text: string;
  detail: string;
  warnings: string[];
  tone: 'dim' | 'ok' | 'warn' | 'error';
} {
  if (!s || s.state === 'off') return { text: 'Sync off', detail: 'No bucket configured: Settings → Sync.', warnings: [], tone: 'dim' };
  const warnings = s.warnings;
  // A re-sealing pass (a new clinic key, or encrypting the bucket) runs before anything else.
  if (s.encryption === 'migrating' && s.state !== 'error' && s.state !== 'offline') {
    return {
      text: 'Re-sealing the bucket with the new clinic key…',
      detail: 'Every object is sealed again in the background; nothing new is sent until it is done.',
      warnings,
      tone: 'warn',
    };
  }
  switch (s.state) {
    case 'offline':
      return {
        text: `Offline since ${time(s.since)} · next try ${time(s.next_try)}`,
        detail: `${s.message ?? ''} Nothing is lost: ${s.backlog.to_upload} waiting to upload.`,
        warnings,
        tone: 'warn',
      };
    case 'syncing': {
      const parts = [];
      if (s.backlog.to_upload) parts.push(`${s.backlog.to_upload} to upload`);
      if (s.backlog.to_apply) parts.push(`${s.backlog.to_apply} to apply`);
      if (s.backlog.to_download) parts.push(`${s.backlog.to_download} to download`);
      return { text: `Syncing${parts.length ? ' · ' + parts.join(' · ') : '…'}`, detail: s.message ?? '', warnings, tone: 'dim' };
    }
    case 'up_to_date':
      return { text: 'Up to date', detail: `Last round ${time(s.last_success_at)}.`, warnings, tone: 'ok' };
    case 'error':
      return { text: 'Sync error', detail: s.message ?? '', warnings, tone: 'error' };
  }
}
