// The one door to the backend: typed calls over Tauri's IPC, media URLs and events.
// Components never call `invoke` themselves, so tests can stand in for the backend with
// `mockIPC`. `Command` (generated from src-tauri/src/command_names.rs) is every name the
// backend answers: a call to any other does not type-check.
import { invoke, convertFileSrc, type InvokeArgs } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import type {
  ActivePatientEvent,
  AdjustInput,
  Adjusted,
  Annotation,
  AnnotationInput,
  Calibration,
  Moved,
  Preset,
  Rendered,
  SavedFrame,
  VideoSource,
  Exported,
  CaptureOutcome,
  NewTemplate,
  SeriesView,
  Template,
  AfterImport,
  Attachment,
  DocumentDetails,
  DocumentEdit,
  GalleryItem,
  ErrorPayload,
  FileResult,
  ImportProgressEvent,
  InboxFile,
  InboxFolder,
  InboxNotice,
  Kind,
  LibraryStatus,
  ListStatus,
  Notation,
  Note,
  Patient,
  PatientInput,
  Plan,
  PlanItem,
  StartupInfo,
  ThumbnailEvent,
  ToothChart,
  Transition,
  Check,
  Command,
  LifecycleReport,
  SyncSetUp,
  ResealStarted,
  ShareLink,
  SyncConfig,
  SyncEvent,
  SyncSettings,
  SyncStatus,
  BackupReport,
  BackupSchedule,
  BackupState,
  Health,
  AuditCheck,
  AuditQueryInput,
  AuditRow,
  NewUserInput,
  Permission,
  Role,
  SessionState,
  Signature,
  User,
} from './bindings';

/** A refused or failed call: a stable `code` for logic and a `message` for people. */
export class ApiError extends Error {
  code: string;
  constructor(payload: ErrorPayload) {
    super(payload.message);
    this.code = payload.code;
  }
}

function isPayload(e: unknown): e is ErrorPayload {
  return typeof e === 'object' && e !== null && 'code' in e && 'message' in e;
}

async function call<T>(command: Command, args?: InvokeArgs): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (e) {
    if (isPayload(e)) throw new ApiError(e);
    throw new ApiError({ code: 'ipc_failed', message: `Chairside's backend did not answer (${String(e)}). Restart the app.` });
  }
}

export const api = {
  appReady: () => call<StartupInfo>('app_ready'),
  libraryStatus: () => call<LibraryStatus>('library_status'),
  listPatients: (query?: string) => call<Patient[]>('list_patients', { query: query ?? null }),
  getPatient: (id: string) => call<Patient>('get_patient', { id }),
  addPatient: (input: PatientInput) => call<Patient>('add_patient', { input }),
  updatePatient: (id: string, input: PatientInput) => call<Patient>('update_patient', { id, input }),
  /** Newest first; with `limit`, only that many. */
  listDocuments: (patientId: string, status: ListStatus, limit?: number) =>
    call<GalleryItem[]>('list_documents', { patientId, status, limit: limit ?? null }),
  showDocument: (id: string) => call<DocumentDetails>('show_document', { id }),
  updateDocument: (id: string, edit: DocumentEdit) => call<Transition>('update_document', { id, edit }),
  archiveDocument: (id: string, reason: string | null) => call<Transition>('archive_document', { id, reason }),
  restoreDocument: (id: string) => call<Transition>('restore_document', { id }),
  importFiles: (importId: string, patientId: string, paths: string[], kind: Kind | null = null) =>
    call<FileResult[]>('import_files', { importId, patientId, paths, kind }),
  linkDocument: (documentId: string, ownerType: string, ownerId: string, role: string | null) =>
    call<Attachment>('link_document', { documentId, ownerType, ownerId, role }),
  unlinkDocument: (documentId: string, ownerType: string, ownerId: string) =>
    call<Attachment>('unlink_document', { documentId, ownerType, ownerId }),
  ownerDocuments: (ownerType: string, ownerId: string) =>
    call<Attachment[]>('owner_documents', { ownerType, ownerId }),
  listNotes: (patientId: string) => call<Note[]>('list_notes', { patientId }),
  addNote: (patientId: string, text: string) => call<Note>('add_note', { patientId, text }),
  editNote: (id: string, text: string) => call<Note>('edit_note', { id, text }),
  listPlans: (patientId: string) => call<Plan[]>('list_plans', { patientId }),
  addPlan: (patientId: string, title: string) => call<Plan>('add_plan', { patientId, title }),
  addPlanItem: (planId: string, title: string) => call<PlanItem>('add_plan_item', { planId, title }),
  getActivePatient: () => call<Patient | null>('get_active_patient'),
  /** Whose chair this is (null: nobody's); what the inbox and the camera capture go to. */
  setActivePatient: (patientId: string | null) => call<Patient | null>('set_active_patient', { patientId }),
  inboxFolders: () => call<InboxFolder[]>('inbox_folders'),
  setInboxFolder: (path: string, kind: Kind | null, afterImport: AfterImport) =>
    call<InboxFolder[]>('set_inbox_folder', { folder: { path, kind, after_import: afterImport } }),
  removeInboxFolder: (path: string) => call<InboxFolder[]>('remove_inbox_folder', { path }),
  /** The Unassigned tray (waiting for a patient) and the files that failed. */
  inboxFiles: () => call<InboxFile[]>('inbox_files'),
  assignInboxFiles: (patientId: string, paths: string[]) => call<InboxFile[]>('assign_inbox_files', { patientId, paths }),
  toothChart: () => call<ToothChart>('tooth_chart'),
  setToothNotation: (notation: Notation) => call<ToothChart>('set_tooth_notation', { notation }),
  seriesTemplates: () => call<Template[]>('series_templates'),
  /** A clinic's own template; teeth in the clinic's notation. */
  addSeriesTemplate: (template: NewTemplate) => call<Template>('add_series_template', { template }),
  showSeries: (id: string) => call<SeriesView>('show_series', { id }),
  listSeries: (patientId: string) => call<SeriesView[]>('list_series', { patientId }),
  /** Starts a series as the capture session, its patient in the chair. */
  startCapture: (patientId: string, templateId: string) => call<SeriesView>('start_capture', { patientId, templateId }),
  captureSession: () => call<SeriesView | null>('capture_session'),
  resumeCapture: (seriesId: string | null) => call<SeriesView | null>('resume_capture', { seriesId }),
  placeInSeries: (seriesId: string, slot: number, documentId: string) =>
    call<SeriesView>('place_in_series', { seriesId, slot, documentId }),
  /** A camera still as JPEG bytes, sent raw (no base64). */
  captureStill: (jpeg: Uint8Array) => call<CaptureOutcome>('capture_still', jpeg),
  syncSettings: () => call<SyncSettings>('sync_settings'),
  syncStatus: () => call<SyncStatus>('sync_status'),
  /** Checks the bucket first; nothing is saved when the check fails. */
  syncConfigure: (config: SyncConfig, secret: string, passphrase: string | null) =>
    call<SyncSetUp>('sync_configure', { config, secret, passphrase }),
  /** Rewraps the clinic key under a new passphrase (the key and the bucket stay as they are). */
  syncChangePassphrase: (passphrase: string) => call<null>('sync_change_passphrase', { passphrase }),
  /** A new clinic key (or, `encrypt`, the first one for an unencrypted bucket); the bucket is sealed again in the background. */
  syncReseal: (passphrase: string, encrypt: boolean) => call<ResealStarted>('sync_reseal', { passphrase, encrypt }),
  syncTest: () => call<Check[]>('sync_test'),
  syncNow: () => call<null>('sync_now'),
  /** A presigned link to the original, valid `seconds` (at most 7 days); audited. */
  syncShare: (documentId: string, seconds: number) => call<ShareLink>('sync_share', { documentId, seconds }),
  syncLifecycleInstall: () => call<LifecycleReport>('sync_lifecycle_install'),
  /** `quick`: without re-checking the audit chain (what the status bar polls). */
  health: (quick: boolean) => call<Health>('health', { quick }),
  setMinFreeSpace: (megabytes: number) => call<Health>('set_min_free_space', { megabytes }),
  setScanning: (clamd: string | null) => call<Health>('set_scanning', { clamd }),
  backupState: () => call<BackupState>('backup_state'),
  setBackupSchedule: (schedule: BackupSchedule) => call<BackupState>('set_backup_schedule', { schedule }),
  /** A backup to the scheduled folder now; resolves when it is written. */
  backupNow: () => call<BackupReport>('backup_now'),
  /** Who is signed in, whether sign-in is needed, whether the window is locked. */
  session: () => call<SessionState>('session'),
  /** Signs in, switches user or unlocks: with the password, or (`pin`) the PIN. */
  signIn: (name: string, secret: string, pin: boolean) => call<SessionState>('sign_in', { name, secret, pin }),
  signOut: () => call<SessionState>('sign_out'),
  lockWindow: (reason: 'idle' | 'key') => call<SessionState>('lock_window', { reason }),
  setLockAfter: (seconds: number) => call<SessionState>('set_lock_after', { seconds }),
  addUser: (input: NewUserInput) => call<User>('add_user', { input }),
  listUsers: () => call<User[]>('list_users'),
  editUser: (name: string, role: string | null, disabled: boolean | null) =>
    call<User>('edit_user', { name, role, disabled }),
  /** A new password and/or PIN ("" removes the PIN); null leaves it. */
  setUserSecrets: (name: string, password: string | null, pin: string | null) =>
    call<User>('set_user_secrets', { name, password, pin }),
  listRoles: () => call<Role[]>('list_roles'),
  editRole: (role: string, allow: Permission[], deny: Permission[]) => call<Role>('edit_role', { role, allow, deny }),
  /** A patient opened in the window (audited). */
  openPatient: (id: string) => call<Patient>('open_patient', { id }),
  signDocument: (id: string) => call<Signature>('sign_document', { id }),
  adjustDocument: (id: string, change: AdjustInput) => call<Adjusted>('adjust_document', { id, change }),
  adjustPresets: () => call<Preset[]>('adjust_presets'),
  annotateDocument: (id: string, items: AnnotationInput[]) => call<Annotation[]>('annotate_document', { id, items }),
  removeAnnotation: (id: string, annotationId: string) => call<null>('remove_annotation', { id, annotationId }),
  /** A line over something `mm` long; `null` clears the user's calibration. */
  calibrateDocument: (id: string, line: [[number, number], [number, number], number] | null) =>
    call<Calibration>('calibrate_document', { id, line }),
  moveDocuments: (ids: string[], toPatient: string, reason: string) => call<Moved[]>('move_documents', { ids, toPatient, reason }),
  /** The document as adjusted to a PNG, JPEG or PDF page (a full path). */
  /** A grey image's values at full depth (lib/tone.ts reads them); refused (`not_grey`) for a colour image. */
  greyView: (id: string, size: number, frame = 0) => call<ArrayBuffer>('grey_view', { id, size, frame }),
  videoSource: (id: string) => call<VideoSource>('video_source', { id }),
  saveVideoFrame: (id: string, atS: number) => call<SavedFrame>('save_video_frame', { id, atS }),
  renderDocument: (id: string, out: string, annotations: boolean) => call<Rendered>('render_document', { id, out, annotations }),
  printSeries: (id: string, out: string, annotations: boolean) => call<Rendered>('print_series', { id, out, annotations }),
  exportDocuments: (patientId: string, documents: string[], format: 'pdf' | 'zip' | 'dicom', out: string) =>
    call<Exported>('export_documents', { patientId, documents, format, out }),
  auditEvents: (query: AuditQueryInput) => call<AuditRow[]>('audit_events', { query }),
  auditVerify: () => call<AuditCheck>('audit_verify'),
  /** The filtered events to a CSV file (a full path; never over an existing file). */
  auditExportCsv: (query: AuditQueryInput, path: string) => call<number>('audit_export_csv', { query, path }),
};

export type ThumbSize = 256 | 1024 | 2048;

/** The `media:` URL of a document's thumbnail (made on demand by the backend). */
export function thumbUrl(documentId: string, size: ThumbSize = 256): string {
  return convertFileSrc(`thumb/${documentId}/${size}`, 'media');
}

/** The `media:` URL of a document's original; each load is audited as a view. */
export function originalUrl(documentId: string): string {
  return convertFileSrc(`original/${documentId}`, 'media');
}

/** Formats a webview can draw itself; others are shown through their largest preview. */
const DRAWABLE = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/bmp']);
/** The document as adjusted (or as it is, `original`), rendered by the backend; the version
 * makes each edit a new address; `frame` of a multi-frame DICOM. */
export function adjustedUrl(id: string, version: number, original = false, frame = 0): string {
  return convertFileSrc(`${original ? 'view-original' : 'view'}/${id}/2048/${version}${frame > 0 ? `/${frame}` : ''}`, 'media');
}

/** A video (MP4, MOV, WebM): played, not shown as a picture. */
export function isVideo(mime: string): boolean {
  return mime === 'video/mp4' || mime === 'video/quicktime' || mime === 'video/webm';
}

/** Where the player reads a video from, by byte ranges (its original or its H.264 copy). */

/** A 3D model (STL, PLY, OBJ): shown by the 3D viewer, not as a picture. */
export function isModel(mime: string): boolean {
  return mime === 'model/stl' || mime === 'model/x-ply' || mime === 'model/obj';
}

/** A photo the webview cannot draw (HEIC, AVIF): shown from its full-resolution JPEG, made in
 * the background; the backend answers with the largest thumbnail until then. */
export function isHeif(mime: string): boolean {
  return mime === 'image/heic' || mime === 'image/avif';
}

/** What the viewer shows of an unedited document; `fresh` changes the address once a HEIC's
 * full-resolution rendition is made. */
export function viewerUrl(doc: Pick<GalleryItem, 'id' | 'mime' | 'previews'>, fresh = 0): string | null {
  if (DRAWABLE.has(doc.mime)) return originalUrl(doc.id);
  if (isHeif(doc.mime)) return `${convertFileSrc(`full/${doc.id}`, 'media')}${fresh > 0 ? `?r=${fresh}` : ''}`;
  return doc.previews.length > 0 || doc.mime !== 'application/pdf' ? thumbUrl(doc.id, 2048) : null;
}

export const events = {
  onThumbnail: (f: (e: ThumbnailEvent) => void): Promise<UnlistenFn> =>
    listen<ThumbnailEvent>('thumbnail', (e) => f(e.payload)),
  onImportProgress: (f: (e: ImportProgressEvent) => void): Promise<UnlistenFn> =>
    listen<ImportProgressEvent>('import-progress', (e) => f(e.payload)),
  onInbox: (f: (e: InboxNotice) => void): Promise<UnlistenFn> => listen<InboxNotice>('inbox', (e) => f(e.payload)),
  onActivePatient: (f: (e: ActivePatientEvent) => void): Promise<UnlistenFn> =>
    listen<ActivePatientEvent>('active-patient', (e) => f(e.payload)),
  onSync: (f: (e: SyncEvent) => void): Promise<UnlistenFn> => listen<SyncEvent>('sync', (e) => f(e.payload)),
  /** A scheduled backup ran (or found its folder missing): health may have changed. */
  onHealth: (f: () => void): Promise<UnlistenFn> => listen<null>('health', () => f()),
};

export function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
