// Capture state shared by the screens: whose chair this is, the Unassigned tray, and the
// clinic's tooth chart (labels in its notation).
import { api, messageOf } from './api';
import type { InboxFile, Patient, ToothChart } from './bindings';
import { labelsOf, type Labels } from './teeth';
import { toast } from './state.svelte';

export const capture = $state<{ active: Patient | null; tray: InboxFile[]; chart: ToothChart | null; labels: Labels }>({
  active: null,
  tray: [],
  chart: null,
  labels: new Map(),
});

export async function loadActive(): Promise<Patient | null> {
  try {
    capture.active = await api.getActivePatient();
  } catch (e) {
    toast(messageOf(e), 'error');
  }
  return capture.active;
}

export async function setActive(patient: Patient | null): Promise<void> {
  try {
    capture.active = await api.setActivePatient(patient?.id ?? null);
    toast(patient ? `${patient.name} is in the chair: new captures and inbox files go to their record.` : 'Nobody in the chair: inbox files wait in Unassigned.');
  } catch (e) {
    toast(messageOf(e), 'error');
  }
}

export async function loadTray(): Promise<void> {
  try {
    capture.tray = await api.inboxFiles();
  } catch (e) {
    toast(messageOf(e), 'error');
  }
}

export function setChart(chart: ToothChart): void {
  capture.chart = chart;
  capture.labels = labelsOf(chart.teeth);
}

export async function loadChart(): Promise<void> {
  try {
    setChart(await api.toothChart());
  } catch (e) {
    toast(messageOf(e), 'error');
  }
}
