// A stand-in backend for the browser end-to-end tests only (built with `vite build --mode
// e2e`, never into the app): Tauri's IPC mocks over an in-memory library, so the UI's flows
// run in Chromium without the Rust side. The real-app e2e covers the real backend.
import { mockIPC, mockWindows, mockConvertFileSrc } from '@tauri-apps/api/mocks';
import { emit } from '@tauri-apps/api/event';
import { NO_ADJUSTMENTS } from '../lib/geometry';
import type {
  AdjustInput,
  Adjustments,
  Annotation,
  AnnotationInput,
  Command,
  SeriesView,
  Template,
  InboxFile,
  InboxFolder,
  ToothLabel,
  Attachment,
  DocumentDetails,
  GalleryItem,
  FileResult,
  HistoryEntry,
  Kind,
  Note,
  Patient,
  Plan,
  SyncConfig,
  SyncStatus,
  BackupSchedule,
  BackupState,
  BackupRun,
  Health,
  AuditRow,
  Permission,
  Role,
  SessionState,
  Signature,
  User,
} from '../lib/bindings';

type Doc = DocumentDetails;

const now = () => new Date().toISOString();
let counter = 0;
const id = (prefix: string) => `${prefix}-${(++counter).toString(16).padStart(8, '0')}-0000-7000-8000-000000000000`;
const sha = (n: number) => n.toString(16).padStart(64, '0');

const patients: Patient[] = [];
const docs = new Map<string, Doc>();
const notes: Note[] = [];
const plans: Plan[] = [];
const links: Attachment[] = [];
let active: Patient | null = null;
let folders: InboxFolder[] = [{ path: '/e2e/library/inbox', kind: null, after_import: 'move' }];
const tray: InboxFile[] = [
  { path: '/e2e/library/inbox/IMG_2001.JPG', folder: '/e2e/library/inbox', status: 'waiting', patient_id: null, document_id: null, error: null, moved_to: null, byte_size: 3_100_000, updated_at: now(), series_slot: null },
  {
    path: '/e2e/library/inbox/sensor_0042.jpg',
    folder: '/e2e/library/inbox',
    status: 'rejected',
    patient_id: null,
    document_id: null,
    error: { code: 'corrupt_file', message: '/e2e/library/inbox/sensor_0042.jpg: the image is damaged (Premature end of JPEG file)' },
    moved_to: null,
    byte_size: 81_000,
    updated_at: now(),
    series_slot: null,
  },
];

// Two templates (the real ones, all four and a clinic's own, are the Rust crate's).
const templates: Template[] = [
  {
    id: 'abo-8',
    name: 'Orthodontic records (ABO 8 views)',
    columns: 3,
    rows: 3,
    builtin: true,
    slots: [
      ['Right profile', 'extraoral', 0, 0],
      ['Frontal at rest', 'extraoral', 0, 1],
      ['Frontal smiling', 'extraoral', 0, 2],
      ['Frontal in occlusion', 'intraoral', 1, 1],
      ['Right buccal', 'intraoral', 1, 0],
      ['Left buccal', 'intraoral', 1, 2],
      ['Maxillary occlusal', 'intraoral', 2, 0],
      ['Mandibular occlusal', 'intraoral', 2, 2],
    ].map(([name, kind, row, col]) => ({ name: String(name), kind: String(kind), teeth: null, rotation: 0, row: Number(row), col: Number(col) })),
  },
  {
    id: 'compare-2',
    name: 'Before / after (2)',
    columns: 2,
    rows: 1,
    builtin: true,
    slots: [
      { name: 'Before', kind: 'intraoral', teeth: null, rotation: 0, row: 0, col: 0 },
      { name: 'After', kind: 'intraoral', teeth: null, rotation: 0, row: 0, col: 1 },
    ],
  },
];
const series: SeriesView[] = [];
let session: string | null = null;

// Sync: a bucket that accepts one secret, as the real configure checks before saving.
let syncConfig: SyncConfig | null = null;
const offStatus = (): SyncStatus => ({
  state: 'off', since: null, next_try: null, message: null, code: null,
  backlog: { to_upload: 0, to_apply: 0, to_download: 0 }, last_success_at: null, clock_skew_seconds: null, warnings: [], encryption: 'off',
});
let syncStatus: SyncStatus = offStatus();

// Health and backups, as the real backend grades them (crates/app/src/health.rs): a new
// workstation has no backup folder and no verify yet.
let schedule: BackupSchedule = { target: null, every_hours: 24, at_close: true, keep: 14 };
let lastGood: BackupRun | null = null;
let minFree = 2_000_000_000;
function backupState(): BackupState {
  return { schedule, last_run: lastGood, last_good: lastGood, due: !!schedule.target && !lastGood, overdue: !!schedule.target && !lastGood, target_missing: false };
}
function healthNow(quick: boolean): Health {
  const findings: Health['findings'] = [];
  if (!schedule.target) findings.push({ level: 'attention', area: 'backup', message: 'no backup folder is set: choose a USB disk or a NAS folder in the backup settings' });
  else if (!lastGood) findings.push({ level: 'attention', area: 'backup', message: 'no backup has succeeded yet' });
  findings.push({ level: 'attention', area: 'verify', message: 'the library has never been verified: run a verify (it re-hashes every original)' });
  const free = 80_000_000_000;
  if (free < minFree) findings.unshift({ level: 'problem', area: 'disk', message: `only ${(free / 1e9).toFixed(1)} GB free on the library's disk: imports are refused below ${(minFree / 1e9).toFixed(1)} GB; free some space or move the library to a larger disk` });
  const bytes = [...docs.values()].reduce((n, d) => n + d.byte_size, 0);
  return {
    level: findings.some((f) => f.level === 'problem') ? 'problem' : findings.length ? 'attention' : 'ok',
    findings, documents: docs.size, bytes, by_kind_and_year: [{ kind: 'intraoral', year: '2026', documents: docs.size, bytes }],
    database_bytes: 4_000_000, disk: { path: '/e2e/library', free_bytes: free, total_bytes: 250_000_000_000, min_free_bytes: minFree },
    thumbnails: { pending: 0, failed: 0, unsupported: 0 }, sync: syncStatus, backup: backupState(), last_verify: null,
    audit: quick ? null : { ok: true, events_checked: 12, problem: null },
    scanning: { on: false, address: null, version: null, problem: null },
  };
}

function startSeries(patientId: string, templateId: string): SeriesView {
  const template = need(templates.find((t) => t.id === templateId), 'template_not_found', 'template');
  const v: SeriesView = {
    series: { id: id('s'), patient_id: patientId, template, title: template.name, started_at: now(), created_by: 'e2e' },
    slots: template.slots.map((slot, i) => ({ index: i, slot, document_id: null, document_version: null, earlier: [] })),
    next: 0,
  };
  series.unshift(v);
  return v;
}

function fillNext(v: SeriesView, documentId: string): number | null {
  if (v.next === null) return null;
  const i = v.next;
  v.slots[i].document_id = documentId;
  const d = docs.get(documentId);
  v.slots[i].document_version = d?.version ?? null;
  if (d) d.kind = v.slots[i].slot.kind as Kind;
  const empty = v.slots.find((s) => s.document_id === null);
  v.next = empty ? empty.index : null;
  return i;
}

// The tooth chart in FDI or Palmer (the real conversions, all three notations, are the Rust
// crate's and tested there).
let notation: 'fdi' | 'universal' | 'palmer' = 'fdi';
function chart() {
  const teeth: ToothLabel[] = [];
  for (let q = 1; q <= 8; q++) {
    for (let p = 1; p <= (q <= 4 ? 8 : 5); p++) {
      const quadrant = q > 4 ? q - 4 : q;
      const palmer = ['UR', 'UL', 'LL', 'LR'][quadrant - 1] + (q > 4 ? 'ABCDE'[p - 1] : String(p));
      teeth.push({ fdi: q * 10 + p, label: notation === 'palmer' ? palmer : String(q * 10 + p), quadrant, position: p, primary: q > 4 });
    }
  }
  return { notation, teeth };
}

function patient(name: string, external_id: string | null, birth_date: string | null): Patient {
  const p: Patient = { id: id('p'), clinic_id: 'clinic', name, external_id, birth_date, created_at: now(), updated_at: now() };
  patients.push(p);
  return p;
}

const KINDS: Kind[] = ['intraoral', 'extraoral', 'xray'];

function doc(patientId: string, n: number, captured: Date, kind: Kind, filename: string): Doc {
  const d: Doc = {
    id: id('d'),
    sha256: sha(n),
    kind,
    status: 'active',
    mime: 'image/jpeg',
    byte_size: 2_400_000 + n,
    width: 4000,
    height: 3000,
    orientation: 1,
    captured_at: captured.toISOString(),
    original_filename: filename,
    teeth: null,
    version: 1,
    thumbnails: [256, 1024, 2048].map((size) => ({ size, width: size, height: Math.round((size * 3) / 4), path: `/thumbs/${size}` })),
    clinic_id: 'clinic',
    patient_id: patientId,
    imported_at: now(),
    imported_by: 'e2e',
    workstation: 'ws',
    source: 'import',
    archived_at: null,
    archived_by: null,
    archive_reason: null,
    notes: null,
    details: null,
    exif: { make: 'Canon', model: 'EOS 80D' },
    links: [],
    history: [{ version: 1, at: now(), actor: 'e2e', workstation: 'ws', action: 'import', changes: {} }],
    signatures: [] as Signature[],
    adjustments: { ...NO_ADJUSTMENTS },
    annotations: [] as Annotation[],
    calibration: { id: '', mm_per_pixel: null, source: 'none' as const },
    moved_to: null as string | null,
    moved_from: null as string | null,
    patient_mismatch: null as string | null,
  };
  docs.set(d.id, d);
  return d;
}

// A patient with a few photos over three days, and one with 5,000 for the scrolling test.
const ana = patient('Ana Kovač', 'C-1001', '1984-03-12');
patient('Bruno Díaz', 'C-1002', '1990-07-01');
const big = patient('Carla Many-Photos', 'C-5000', null);
for (let i = 0; i < 9; i++) doc(ana.id, i + 1, new Date(2026, 10, 20 - Math.floor(i / 3), 10, i), KINDS[i % 3], `IMG_${1000 + i}.JPG`);
for (let i = 0; i < 5000; i++) doc(big.id, 100 + i, new Date(2026, 0, 1 + Math.floor(i / 40), 9, i % 60), KINDS[i % 3], `P${i}.JPG`);

function summary(d: Doc): GalleryItem {
  const { id, sha256, kind, status, mime, byte_size, width, height, captured_at, original_filename, teeth, version, thumbnails } = d;
  return { id, sha256, kind, status, mime, byte_size, width, height, captured_at, original_filename, teeth, version, previews: thumbnails.map((t) => t.size) };
}

class Refusal {
  constructor(
    public code: string,
    public message: string,
  ) {}
}

function need<T>(v: T | undefined, code: string, what: string): T {
  if (v === undefined) throw new Refusal(code, `no ${what} with that id`);
  return v;
}

function history(d: Doc, action: string, changes: Record<string, unknown>) {
  d.version += 1;
  if (action === 'update')
    for (const s of d.signatures) if (s.valid) Object.assign(s, { valid: false, changed_after: { by: 'e2e', at: now(), action } });
  const h: HistoryEntry = { version: d.version, at: now(), actor: 'e2e', workstation: 'ws', action, changes: changes as never };
  d.history.push(h);
}

// Users as the backend keeps them: no one until the first (the owner) is added.
const ALL: Permission[] = ['view_images', 'acquire', 'edit_metadata', 'adjust', 'archive', 'restore', 'move', 'export', 'sign', 'manage_patients', 'manage_users', 'configure', 'view_audit'];
const roles: Role[] = [
  { name: 'owner', permissions: ALL, updated_at: now() },
  { name: 'dentist', permissions: ALL.filter((p) => !['manage_users', 'configure', 'view_audit'].includes(p)), updated_at: now() },
  { name: 'hygienist', permissions: ['view_images', 'acquire', 'edit_metadata', 'adjust', 'export', 'manage_patients'], updated_at: now() },
  { name: 'assistant', permissions: ['view_images', 'acquire', 'edit_metadata', 'adjust', 'manage_patients'], updated_at: now() },
  { name: 'front_desk', permissions: ['manage_patients'], updated_at: now() },
  { name: 'it', permissions: ['configure'], updated_at: now() },
];
const users: (User & { password: string; pin: string | null })[] = [];
let signedIn: string | null = null;
let locked = false;
const audit: AuditRow[] = [];
function sessionState(): SessionState {
  const u = users.find((x) => x.name === signedIn);
  const perms = users.length === 0 ? ALL : u ? roles.find((r) => r.name === u.role)?.permissions ?? [] : [];
  return { users: users.length > 0, user: u?.name ?? null, role: u?.role ?? null, permissions: perms, locked, lock_after_seconds: 300 };
}
function audited(action: string, entity_type: string, entity_id: string | null) {
  audit.unshift({ seq: audit.length + 1, at: now(), user: signedIn ?? 'e2e', workstation: 'ws', action, entity_type, entity_id, detail: '{}' });
}

type Args = Record<string, unknown>;
// Typed by the backend's command list: a command the app has and the mock lacks (or one the
// app no longer has) fails the type check.
const handlers: Record<Command, (a: Args) => unknown> = {
  app_ready: () => ({ startup_ms: 1 }),
  library_status: () => ({ data_dir: '/e2e/library', documents: docs.size, thumbnails_in_progress: 0, user: 'e2e', workstation: 'ws', version: '0.1.0' }),
  list_patients: (a) => {
    const q = String(a.query ?? '').toLowerCase();
    return patients.filter((p) => !q || p.name.toLowerCase().includes(q) || (p.external_id ?? '').toLowerCase().includes(q));
  },
  get_patient: (a) => need(patients.find((p) => p.id === a.id), 'patient_not_found', 'patient'),
  add_patient: (a) => {
    const input = a.input as { name: string; external_id: string | null; birth_date: string | null };
    if (input.external_id && patients.some((p) => p.external_id === input.external_id))
      throw new Refusal('duplicate_external_id', `chart number ${input.external_id} is already used by another patient`);
    return patient(input.name, input.external_id, input.birth_date);
  },
  update_patient: (a) => {
    const p = need(patients.find((x) => x.id === a.id), 'patient_not_found', 'patient');
    Object.assign(p, a.input, { updated_at: now() });
    return p;
  },
  list_documents: (a) =>
    [...docs.values()]
      .filter((d) => d.patient_id === a.patientId && (a.status === 'all' || d.status === a.status))
      .sort((x, y) => ((x.captured_at ?? '') < (y.captured_at ?? '') ? 1 : -1))
      .slice(0, typeof a.limit === 'number' ? a.limit : undefined)
      .map(summary),
  show_document: (a) => {
    const d = need(docs.get(String(a.id)), 'document_not_found', 'document');
    return { ...d, links: links.filter((l) => l.document_id === d.id) };
  },
  update_document: (a) => {
    const d = need(docs.get(String(a.id)), 'document_not_found', 'document');
    const edit = a.edit as { kind?: Kind | null; notes?: string | null; teeth?: string | null };
    const changes: Record<string, unknown> = {};
    if (edit.teeth != null) {
      const byLabel = new Map(chart().teeth.map((t) => [t.label.toLowerCase(), t.fdi]));
      const codes = edit.teeth.split(/[\s,;]+/).filter(Boolean).map((l) => {
        const c = byLabel.get(l.toLowerCase());
        if (c === undefined) throw new Refusal('invalid_teeth', `“${l}” is not a tooth in ${notation} notation`);
        return c;
      });
      const stored = [...new Set(codes)].sort((x, y) => x - y).join(',') || null;
      if (stored !== d.teeth) changes.teeth = d.teeth = stored;
    }
    if (edit.kind && edit.kind !== d.kind) changes.kind = d.kind = edit.kind;
    if (edit.notes != null && edit.notes !== (d.notes ?? '')) changes.notes = d.notes = edit.notes;
    if (Object.keys(changes).length === 0) return 'unchanged';
    history(d, 'update', changes);
    return 'changed';
  },
  archive_document: (a) => {
    const d = need(docs.get(String(a.id)), 'document_not_found', 'document');
    if (d.status === 'archived') return 'unchanged';
    Object.assign(d, { status: 'archived', archived_at: now(), archived_by: 'e2e', archive_reason: a.reason ?? null });
    history(d, 'archive', { reason: a.reason });
    return 'changed';
  },
  restore_document: (a) => {
    const d = need(docs.get(String(a.id)), 'document_not_found', 'document');
    if (d.status === 'active') return 'unchanged';
    Object.assign(d, { status: 'active', archived_at: null, archived_by: null, archive_reason: null });
    history(d, 'restore', {});
    return 'changed';
  },
  import_files: async (a) => {
    const paths = a.paths as string[];
    const results: FileResult[] = [];
    for (const [i, path] of paths.entries()) {
      let r: FileResult;
      if (path.includes('broken')) {
        r = { path, status: 'rejected', document_id: null, sha256: null, error: { code: 'corrupt_file', message: `${path}: the image is damaged (Premature end of JPEG file)` }, warnings: [] };
      } else {
        const d = doc(String(a.patientId), 90_000 + docs.size, new Date(), 'intraoral', path.split('/').pop() ?? path);
        r = { path, status: 'imported', document_id: d.id, sha256: d.sha256, error: null, warnings: [] };
      }
      results.push(r);
      await emit('import-progress', { import_id: a.importId, done: i + 1, total: paths.length, result: r });
    }
    return results;
  },
  link_document: (a) => {
    const l: Attachment = {
      id: id('l'),
      document_id: String(a.documentId),
      owner_type: String(a.ownerType),
      owner_id: String(a.ownerId),
      patient_id: need(docs.get(String(a.documentId)), 'document_not_found', 'document').patient_id,
      role: (a.role as string | null) ?? null,
      created_at: now(),
      created_by: 'e2e',
    };
    links.push(l);
    return l;
  },
  unlink_document: (a) => {
    const i = links.findIndex((l) => l.document_id === a.documentId && l.owner_type === a.ownerType && l.owner_id === a.ownerId);
    return links.splice(i, 1)[0];
  },
  owner_documents: (a) => links.filter((l) => l.owner_type === a.ownerType && l.owner_id === a.ownerId),
  list_notes: (a) => notes.filter((n) => n.patient_id === a.patientId),
  add_note: (a) => {
    const n: Note = { id: id('n'), patient_id: String(a.patientId), text: String(a.text), created_at: now(), created_by: 'e2e', updated_at: now(), version: 1 };
    notes.unshift(n);
    return n;
  },
  edit_note: (a) => {
    const n = need(notes.find((x) => x.id === a.id), 'note_not_found', 'note');
    Object.assign(n, { text: a.text, version: n.version + 1, updated_at: now() });
    return n;
  },
  list_plans: (a) => plans.filter((p) => p.patient_id === a.patientId),
  add_plan: (a) => {
    const p: Plan = { id: id('pl'), patient_id: String(a.patientId), title: String(a.title), status: 'active', created_at: now(), created_by: 'e2e', items: [] };
    plans.push(p);
    return p;
  },
  add_plan_item: (a) => {
    const p = need(plans.find((x) => x.id === a.planId), 'plan_not_found', 'plan');
    const item = { id: id('pi'), plan_id: p.id, position: p.items.length + 1, title: String(a.title), status: 'planned', created_at: now() };
    p.items.push(item);
    return item;
  },
  get_active_patient: () => active,
  set_active_patient: (a) => (active = a.patientId ? need(patients.find((p) => p.id === a.patientId), 'patient_not_found', 'patient') : null),
  inbox_folders: () => folders,
  set_inbox_folder: (a) => {
    const f = a.folder as InboxFolder;
    if (!f.path.startsWith('/')) throw new Refusal('invalid_input', `the inbox folder must be given as a full path, not “${f.path}”`);
    folders = [...folders.filter((x) => x.path !== f.path), f].sort((x, y) => x.path.localeCompare(y.path));
    return folders;
  },
  remove_inbox_folder: (a) => (folders = folders.filter((x) => x.path !== a.path)),
  inbox_files: () => tray,
  assign_inbox_files: (a) => {
    const out: InboxFile[] = [];
    for (const path of a.paths as string[]) {
      const i = tray.findIndex((f) => f.path === path);
      if (i < 0) throw new Refusal('invalid_input', `${path} is not a file of a watched folder`);
      const f = tray[i];
      if (f.error) {
        out.push(f);
        continue;
      }
      const d = doc(String(a.patientId), 95_000 + docs.size, new Date(), 'intraoral', path.split('/').pop() ?? path);
      tray.splice(i, 1);
      out.push({ ...f, status: 'imported', patient_id: String(a.patientId), document_id: d.id, moved_to: path.replace('/inbox/', '/inbox/imported/') });
    }
    return out;
  },
  tooth_chart: () => chart(),
  set_tooth_notation: (a) => {
    notation = a.notation as typeof notation;
    return chart();
  },
  series_templates: () => templates,
  add_series_template: (a) => {
    const t = a.template as Omit<Template, 'id' | 'builtin'>;
    const places = new Set(t.slots.map((s) => `${s.row},${s.col}`));
    if (places.size !== t.slots.length) throw new Refusal('invalid_input', 'invalid template: a slot shares its place in the mount with another slot');
    const made: Template = { ...t, id: id('t'), builtin: false };
    templates.push(made);
    return made;
  },
  show_series: (a) => need(series.find((v) => v.series.id === a.id), 'series_not_found', 'series'),
  list_series: (a) => series.filter((v) => v.series.patient_id === a.patientId),
  start_capture: (a) => {
    active = need(patients.find((p) => p.id === a.patientId), 'patient_not_found', 'patient');
    const v = startSeries(String(a.patientId), String(a.templateId));
    session = v.series.id;
    return v;
  },
  capture_session: () => series.find((v) => v.series.id === session && v.series.patient_id === active?.id) ?? null,
  resume_capture: (a) => {
    session = (a.seriesId as string | null) ?? null;
    return series.find((v) => v.series.id === session) ?? null;
  },
  place_in_series: (a) => {
    const v = need(series.find((x) => x.series.id === a.seriesId), 'series_not_found', 'series');
    const i = Number(a.slot);
    if (!v.slots[i]) throw new Refusal('invalid_input', `this series has no slot ${i + 1}`);
    const d = need(docs.get(String(a.documentId)), 'document_not_found', 'document');
    v.slots[i].document_id = d.id;
    v.slots[i].document_version = d.version;
    const empty = v.slots.find((x) => x.document_id === null);
    v.next = empty ? empty.index : null;
    return v;
  },
  capture_still: (a) => {
    const bytes = a as unknown as Uint8Array;
    if (!active) throw new Refusal('invalid_input', 'nobody is in the chair: choose the patient first, then capture');
    if (!(bytes instanceof Uint8Array) || bytes[0] !== 0xff || bytes[1] !== 0xd8) throw new Refusal('unsupported_format', 'the still is not a JPEG');
    const v = series.find((x) => x.series.id === session && x.series.patient_id === active?.id);
    const kind = (v && v.next !== null ? v.slots[v.next].slot.kind : 'intraoral') as Kind;
    const d = doc(active.id, 97_000 + docs.size, new Date(), kind, `capture-${docs.size}.jpg`);
    const slot = v ? fillNext(v, d.id) : null;
    return { file: { path: 'camera', status: 'imported', document_id: d.id, sha256: d.sha256, error: null, warnings: [] }, slot };
  },
  sync_settings: () => ({ config: syncConfig, secret: { kind: 'keychain' } }),
  sync_status: () => syncStatus,
  sync_configure: (a) => {
    const c = a.config as SyncConfig;
    if (!/^https?:\/\//.test(c.endpoint)) throw new Refusal('invalid_input', `the endpoint "${c.endpoint}" must be a URL starting with https://`);
    if (a.secret !== 'right-secret') {
      throw new Refusal('sync_denied', `the bucket refused the credentials (access key ${c.access_key}): 403 SignatureDoesNotMatch. Check the access key and secret with your storage administrator`);
    }
    const passphrase = a.passphrase ? String(a.passphrase) : null;
    if (passphrase !== null && passphrase.length < 10) {
      throw new Refusal('sync_weak_passphrase', 'the passphrase is too short: use at least 10 characters (a sentence is easier to remember)');
    }
    const keyId = passphrase ? '5e1f0c2a9b7d4e33' : null;
    syncConfig = { ...c, encryption: keyId };
    const encryption = keyId ? 'on' : 'off';
    syncStatus = { ...offStatus(), state: 'syncing', encryption, backlog: { to_upload: 3, to_apply: 0, to_download: 0 } };
    setTimeout(() => {
      syncStatus = { ...offStatus(), state: 'up_to_date', encryption, last_success_at: now() };
      void emit('sync', { status: syncStatus, changed: false });
    }, 300);
    // As a new bucket answers: the clinic key made here, its recovery key shown once.
    return { secret: { kind: 'keychain' }, encryption: !!keyId, key_id: keyId, recovery_key: keyId ? 'K7QH3-M2PXW-9RT4V-A8DNC-E6JB5-YZFG1-SH2RQ-TWM0K-P7XQ4-H9C2T-6Y' : null };
  },
  sync_change_passphrase: (a) => {
    if (String(a.passphrase).length < 10) {
      throw new Refusal('sync_weak_passphrase', 'the passphrase is too short: use at least 10 characters (a sentence is easier to remember)');
    }
    return null;
  },
  // As the engine starts a pass: the new key recorded, the pass run by the next rounds.
  sync_reseal: (a) => {
    if (String(a.passphrase).length < 10) {
      throw new Refusal('sync_weak_passphrase', 'the passphrase is too short: use at least 10 characters (a sentence is easier to remember)');
    }
    if (!syncConfig) throw new Refusal('sync_not_configured', 'sync is not set up: set up sync with the bucket\'s address, name and keys');
    const keyId = a.encrypt ? '5e1f0c2a9b7d4e33' : '9c04d7e2a1b35f68';
    syncConfig = { ...syncConfig, encryption: keyId };
    syncStatus = { ...offStatus(), state: 'syncing', encryption: 'migrating', backlog: { to_upload: 0, to_apply: 0, to_download: 0 } };
    void emit('sync', { status: syncStatus, changed: false });
    setTimeout(() => {
      syncStatus = { ...offStatus(), state: 'up_to_date', encryption: 'on', last_success_at: now() };
      void emit('sync', { status: syncStatus, changed: false });
    }, 1500);
    return { key_id: keyId, recovery_key: 'R4WQ8-N3KXJ-7PT2M-B9ECV-F5HD6-ZXGA2-TJ3SW-UVN1L-Q8YR5-K2D7P-3M' };
  },
  sync_test: () => [
    { name: 'list', ok: true, detail: '3 top-level folders' },
    { name: 'conditional_put', ok: true, detail: 'a second create-only put was refused (412): If-None-Match works' },
    // As radosgw answers (the real-app sync test prints the real server's checks).
    { name: 'lifecycle', ok: true, detail: "readable; no rule yet: install Chairside's lifecycle rule to tier archived originals" },
  ],
  sync_now: () => null,
  sync_share: (a) => {
    if (!syncConfig) throw new Refusal('sync_not_configured', 'sync is not configured');
    return { document_id: String(a.documentId), url: `https://s3.example/clinic/blob?X-Amz-Expires=${a.seconds}&X-Amz-Signature=e2e`, expires_at: new Date(Date.now() + Number(a.seconds) * 1000).toISOString() };
  },
  health: (a) => healthNow(Boolean(a.quick)),
  set_min_free_space: (a) => {
    minFree = Number(a.megabytes) * 1_000_000;
    return healthNow(true);
  },
  set_scanning: (a) => {
    const address = a.clamd ? String(a.clamd) : null;
    if (address && !address.startsWith('/') && !address.startsWith('tcp://')) throw new Refusal('invalid_input', `${address}: give clamd's local socket as an absolute path (Debian: /var/run/clamav/clamd.ctl) or its TCP address as tcp://HOST:PORT`);
    // The e2e world has no daemon: only "off" and the refusal of an address are reachable.
    if (address) throw new Refusal('scanner_unavailable', `the virus scanner at ${address} does not answer: No such file or directory (os error 2): virus scanning stays as it was; start the ClamAV daemon (Debian: clamav-daemon) and try again`);
    return healthNow(true);
  },
  backup_state: () => backupState(),
  set_backup_schedule: (a) => {
    const s = a.schedule as BackupSchedule;
    if (s.target && !s.target.startsWith('/')) throw new Refusal('invalid_input', `the backup folder "${s.target}" must be an absolute path`);
    schedule = s;
    return backupState();
  },
  backup_now: () => {
    if (!schedule.target) throw new Refusal('invalid_input', 'no backup folder is set: give one, or set the backup schedule first');
    const at = now();
    const snapshot = at.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    lastGood = { at, target: schedule.target, ok: true, snapshot, error: null, error_code: null, seconds: 0.4 };
    return { target: schedule.target, snapshot, created_at: at, originals: docs.size, originals_bytes: 0, originals_not_here: 0, thumbnails: 0, files_copied: docs.size, bytes_copied: 0, database_bytes: 4_000_000, database_bytes_written: 65_536, snapshots_removed: [], problems: [], seconds: 0.4 };
  },
  // What radosgw answers with its storage classes configured (scripts/s3-server.sh), as the
  // real-app sync test sees it: both tiers accepted.
  session: () => sessionState(),
  sign_in: (a) => {
    const u = users.find((x) => x.name.toLowerCase() === String(a.name).toLowerCase());
    const ok = u && !u.disabled && (a.pin ? u.pin === a.secret : u.password === a.secret);
    if (!ok || !u) throw new Refusal('auth_failed', 'wrong name or password: check them and try again');
    signedIn = u.name;
    locked = false;
    audited('sign_in', 'user', u.id);
    return sessionState();
  },
  sign_out: () => {
    signedIn = null;
    return sessionState();
  },
  lock_window: () => {
    if (signedIn) locked = true;
    return sessionState();
  },
  set_lock_after: () => sessionState(),
  add_user: (a) => {
    const input = a.input as { name: string; role: string; password: string; pin: string | null };
    if (input.password.length < 8) throw new Refusal('invalid_input', 'a password must have at least 8 characters');
    const u = { id: id('user'), name: input.name, role: input.role, disabled: false, has_pin: !!input.pin, created_at: now(), created_by: signedIn ?? 'e2e', updated_at: now(), password: input.password, pin: input.pin };
    users.push(u);
    return u;
  },
  list_users: () => users,
  edit_user: (a) => {
    const u = need(users.find((x) => x.name === a.name), 'user_not_found', 'user');
    if (typeof a.role === 'string') u.role = a.role;
    if (typeof a.disabled === 'boolean') u.disabled = a.disabled;
    return u;
  },
  set_user_secrets: (a) => {
    const u = need(users.find((x) => x.name === a.name), 'user_not_found', 'user');
    if (typeof a.password === 'string') u.password = a.password;
    return u;
  },
  list_roles: () => roles,
  edit_role: (a) => {
    const r = need(roles.find((x) => x.name === a.role), 'role_not_found', 'role');
    r.permissions = [...r.permissions.filter((p) => !(a.deny as Permission[]).includes(p)), ...(a.allow as Permission[])];
    return r;
  },
  open_patient: (a) => {
    audited('patient_open', 'patient', String(a.id));
    return need(patients.find((p) => p.id === a.id), 'patient_not_found', 'patient');
  },
  sign_document: (a) => {
    const d = need(docs.get(String(a.id)), 'document_not_found', 'document');
    const s: Signature = { id: id('sig'), document_id: d.id, signed_by: signedIn ?? 'e2e', signed_at: now(), workstation: 'ws', sha256: d.sha256, edit_version: d.version, valid: true, changed_after: null };
    d.signatures.push(s);
    return s;
  },
  adjust_document: (a) => {
    const d = need(docs.get(String(a.id)), 'document_not_found', 'document');
    const change = a.change as AdjustInput;
    const { reset, ...rest } = change;
    d.adjustments = { ...(reset ? NO_ADJUSTMENTS : d.adjustments), ...rest } as Adjustments;
    d.version += 1;
    return { id: d.id, adjustments: d.adjustments, version: d.version };
  },
  adjust_presets: () => ['caries', 'endo', 'perio', 'soft-tissue', 'inverted'].map((name) => ({ name, brightness: 0, contrast: 30, gamma: 1, invert: name === 'inverted', sharpen: 2, built_in: true })),
  annotate_document: (a) => {
    const d = need(docs.get(String(a.id)), 'document_not_found', 'document');
    const added = (a.items as AnnotationInput[]).map((i) => {
      if (i.points.length === 0) throw { code: 'invalid_annotation', message: 'the annotation was refused: it has no points', remedy: null };
      return { id: id('ann'), type: i.type, points: i.points, text: i.text ?? null, color: i.color ?? '#ffd400', width: i.width ?? 2, measurement: null, created_by: signedIn ?? 'e2e', created_at: now() } as Annotation;
    });
    d.annotations.push(...added);
    return added;
  },
  remove_annotation: (a) => {
    const d = need(docs.get(String(a.id)), 'document_not_found', 'document');
    d.annotations = d.annotations.filter((x) => x.id !== a.annotationId);
    return null;
  },
  calibrate_document: (a) => {
    const d = need(docs.get(String(a.id)), 'document_not_found', 'document');
    const line = a.line as [[number, number], [number, number], number] | null;
    d.calibration = line ? { id: d.id, mm_per_pixel: line[2] / Math.hypot(line[1][0] - line[0][0], line[1][1] - line[0][1]), source: 'user' } : { id: d.id, mm_per_pixel: null, source: 'none' };
    return d.calibration;
  },
  move_documents: (a) =>
    (a.ids as string[]).map((i) => {
      const d = need(docs.get(i), 'document_not_found', 'document');
      if (d.patient_id === a.toPatient) throw { code: 'move_refused', message: 'the move was refused: already in that chart', remedy: null };
      d.patient_id = String(a.toPatient);
      return { id: i, new_id: i, status: 'moved', ended_links: [] };
    }),
  grey_view: () => {
    throw new Refusal('not_grey', 'a colour image has no grey values to window');
  },
  // The browser has no FFmpeg behind it: a video plays as it is, and a frame cannot be saved.
  video_source: (a) => {
    const d = need(docs.get(String(a.id)), 'document_not_found', 'document');
    if (!d.mime.startsWith('video/')) throw new Refusal('not_a_video', `document ${d.id} (${d.mime}) is not a video`);
    return { state: 'ready', proxy: false, url: `media://localhost/video/${d.id}` };
  },
  save_video_frame: () => {
    throw new Refusal('render_failed', 'saving a frame needs the real backend');
  },
  render_document: (a) => ({ path: String(a.out), width: 2048, height: 1536, bytes: 1000 }),
  print_series: (a) => ({ path: String(a.out), width: 2072, height: 1048, bytes: 1000 }),
  export_documents: (a) => {
    const ids = a.documents as string[];
    for (const i of ids) {
      if (need(docs.get(i), 'document_not_found', 'document').patient_id !== a.patientId) throw new Refusal('document_not_found', `document ${i} is not in the library`);
    }
    if (String(a.out).endsWith('exists.pdf')) throw new Refusal('target_exists', `${String(a.out)} already exists: choose another file name (nothing was written)`);
    const n = ids.length || [...docs.values()].filter((d) => d.patient_id === a.patientId).length;
    return { path: String(a.out), documents: n, bytes: 1000 * n, skipped: [] };
  },
  audit_events: () => audit,
  audit_verify: () => ({ ok: true, events_checked: audit.length, problem: null, peers: [] }),
  audit_export_csv: () => audit.length,
  sync_lifecycle_install: () => ({ transitions: [{ days: 30, storage_class: 'STANDARD_IA' }, { days: 365, storage_class: 'DEEP_ARCHIVE' }], abort_incomplete_multipart_days: 7, refused: [], installed_xml: '' }),
};
// Tauri plugins' own commands the UI uses (not the app's).
const plugins: Partial<Record<string, (a: Args) => unknown>> = {
  'plugin:dialog|open': () => ['/fake/new-photo-1.jpg', '/fake/new-photo-2.jpg', '/fake/broken.jpg'],
};

export function installMockBackend(): void {
  mockWindows('main');
  mockConvertFileSrc('linux');
  mockIPC(
    async (cmd, payload) => {
      const h = (handlers as Partial<Record<string, (a: Args) => unknown>>)[cmd] ?? plugins[cmd];
      if (!h) throw { code: 'unknown_command', message: `the e2e backend has no ${cmd}` };
      try {
        return await h((payload ?? {}) as Args);
      } catch (e) {
        if (e instanceof Refusal) throw { code: e.code, message: e.message };
        throw e;
      }
    },
    { shouldMockEvents: true },
  );
  // Images come from the test server: an SVG per document, coloured by its id.
  const internals = (window as unknown as { __TAURI_INTERNALS__: { convertFileSrc: (p: string, s: string) => string } }).__TAURI_INTERNALS__;
  internals.convertFileSrc = (path: string) => `/e2e-media/${path}`;
}
