// Who is at the keyboard (Svelte 5 runes): the backend's session, what the UI may offer, and
// the window's place kept across a lock or a switch of user. The backend checks every call
// again; hiding is for people, not for safety.
import { api } from './api';
import type { Permission, SessionState } from './bindings';

export const who = $state<{ session: SessionState | null }>({ session: null });

/** The patient open when the window locked, reopened after sign-in (never unsaved input). */
export const place = $state<{ patientId: string | null }>({ patientId: null });

export function may(p: Permission): boolean {
  return who.session?.permissions.includes(p) ?? false;
}

/** The window must show the sign-in screen, and nothing else. */
export function mustSignIn(s: SessionState | null): boolean {
  return !!s && s.users && (!s.user || s.locked);
}

export async function loadSession(): Promise<SessionState> {
  const s = await api.session();
  who.session = s;
  return s;
}
