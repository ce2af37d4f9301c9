// The workstation's health for the status bar: polled quickly (without the audit chain's
// re-check) at start, every few minutes, and whenever a scheduled backup reports.
import { api } from './api';
import type { Health, HealthLevel } from './bindings';

export const health = $state<{ current: Health | null }>({ current: null });

export async function loadHealth(): Promise<void> {
  try {
    health.current = await api.health(true);
  } catch {
    // The status bar shows nothing about health.
  }
}

export function healthLine(h: Health | null): { text: string; tone: 'ok' | 'warn' | 'error' | 'dim'; detail: string } {
  if (!h) return { text: '', tone: 'dim', detail: '' };
  const detail = h.findings.map((f) => f.message).join('\n');
  const by: Record<HealthLevel, { text: string; tone: 'ok' | 'warn' | 'error' }> = {
    ok: { text: 'Healthy', tone: 'ok' },
    attention: { text: 'Needs a look', tone: 'warn' },
    problem: { text: 'Needs a person', tone: 'error' },
  };
  return { ...by[h.level], detail: detail || 'Disk, backups, verify and sync are all fine.' };
}

export function bytes(n: number | null): string {
  if (n === null) return 'unknown';
  if (n >= 1e12) return `${(n / 1e12).toFixed(1)} TB`;
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  return `${Math.round(n / 1e3)} kB`;
}
