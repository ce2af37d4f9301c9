// Generated from the Rust types by src-tauri/src/bindings.rs: do not edit by hand.
// Regenerate with `UPDATE_BINDINGS=1 cargo test -p chairside-desktop bindings`.

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]?: JsonValue } | null;

export type ErrorPayload = { code: string, message: string, };

export type Kind = "intraoral" | "extraoral" | "xray" | "document" | "other";

export type Status = "active" | "archived";

export type Transition = "changed" | "unchanged";

export type ThumbnailRef = { size: number, width: number, height: number, 
/**
 * Absolute path of the file.
 */
path: string, };

export type ThumbnailEvent = { "event": "ready", sha256: string, size: number, } | { "event": "failed", sha256: string, error: string, } | { "event": "proxy_ready", sha256: string, } | { "event": "full_ready", sha256: string, };

export type GalleryItem = { id: string, sha256: string, kind: Kind, status: Status, mime: string, byte_size: number, 
/**
 * As displayed, after EXIF orientation.
 */
width: number | null, height: number | null, captured_at: string | null, original_filename: string | null, teeth: string | null, version: number, 
/**
 * Sizes of the thumbnails ready, smallest first; empty while they are being made, and for
 * files without a preview (PDF).
 */
previews: Array<number>, };

export type Document = { clinic_id: string, patient_id: string, imported_at: string, imported_by: string, workstation: string, source: string, archived_at: string | null, archived_by: string | null, archive_reason: string | null, notes: string | null, 
/**
 * What the file's kind tells beyond its size: `{"mesh": {vertices, faces, bbox_min_mm,
 * bbox_max_mm, vertex_colours, binary}}`, `{"dicom": {frames, modality}}`.
 */
details: JsonValue | null, id: string, sha256: string, kind: Kind, status: Status, mime: string, byte_size: number, 
/**
 * As displayed, after EXIF orientation.
 */
width: number | null, height: number | null, orientation: number, captured_at: string | null, original_filename: string | null, teeth: string | null, version: number, thumbnails: Array<ThumbnailRef>, };

export type HistoryEntry = { version: number, at: string, actor: string, workstation: string, action: string, changes: JsonValue, };

export type Attachment = { id: string, document_id: string, owner_type: string, owner_id: string, patient_id: string, role: string | null, created_at: string, created_by: string, };

export type DocumentDetails = { exif: JsonValue | null, links: Array<Attachment>, history: Array<HistoryEntry>, signatures: Array<Signature>, adjustments: Adjustments, annotations: Array<Annotation>, calibration: Calibration, 
/**
 * Where this document went when it was moved to another patient (it is archived here).
 */
moved_to: string | null, 
/**
 * The document it was moved from, in another patient's chart.
 */
moved_from: string | null, 
/**
 * Why the file may be another patient's (a DICOM whose Patient ID or Name disagrees with
 * the chart); set by whoever knows the chart.
 */
patient_mismatch: string | null, clinic_id: string, patient_id: string, imported_at: string, imported_by: string, workstation: string, source: string, archived_at: string | null, archived_by: string | null, archive_reason: string | null, notes: string | null, 
/**
 * What the file's kind tells beyond its size: `{"mesh": {vertices, faces, bbox_min_mm,
 * bbox_max_mm, vertex_colours, binary}}`, `{"dicom": {frames, modality}}`.
 */
details: JsonValue | null, id: string, sha256: string, kind: Kind, status: Status, mime: string, byte_size: number, 
/**
 * As displayed, after EXIF orientation.
 */
width: number | null, height: number | null, orientation: number, captured_at: string | null, original_filename: string | null, teeth: string | null, version: number, thumbnails: Array<ThumbnailRef>, };

export type Patient = { id: string, clinic_id: string, name: string, external_id: string | null, birth_date: string | null, created_at: string, updated_at: string, };

export type Note = { id: string, patient_id: string, text: string, created_at: string, created_by: string, updated_at: string, version: number, };

export type PlanItem = { id: string, plan_id: string, position: number, title: string, status: string, created_at: string, };

export type Plan = { id: string, patient_id: string, title: string, status: string, created_at: string, created_by: string, items: Array<PlanItem>, };

export type FileStatus = "imported" | "duplicate" | "rejected";

export type FileResult = { path: string, status: FileStatus, document_id: string | null, sha256: string | null, error: ErrorPayload | null, 
/**
 * What is worth a look although the file was stored (a DICOM naming another patient).
 */
warnings: Array<string>, };

export type LibraryStatus = { data_dir: string, documents: number, thumbnails_in_progress: number, user: string, workstation: string, version: string, };

export type StartupInfo = { 
/**
 * From the process start to the first call of `app_ready`.
 */
startup_ms: number, };

export type PatientInput = { name: string, external_id: string | null, birth_date: string | null, };

export type ListStatus = "active" | "archived" | "all";

export type DocumentEdit = { kind: Kind | null, notes: string | null, teeth: string | null, captured_at: string | null, };

export type ImportProgressEvent = { 
/**
 * The id the UI gave the import, to tell concurrent imports apart.
 */
import_id: string, done: number, total: number, result: FileResult, };

export type ActivePatientEvent = { patient: Patient | null, 
/**
 * The practice software asked for this patient: the window shows them.
 */
from_bridge: boolean, };

export type AfterImport = "move" | "leave";

export type InboxFolder = { path: string, 
/**
 * The kind given to its files (an X-ray sensor's folder → `xray`); none: from the file.
 */
kind: Kind | null, after_import: AfterImport, };

export type InboxFolderInput = { path: string, kind: Kind | null, after_import: AfterImport, };

export type InboxStatus = "waiting" | "imported" | "duplicate" | "rejected";

export type InboxFile = { path: string, folder: string, status: InboxStatus, patient_id: string | null, document_id: string | null, error: ErrorPayload | null, moved_to: string | null, byte_size: number, updated_at: string, 
/**
 * The capture session's slot (from 0) it was placed in, as it was taken in.
 */
series_slot: number | null, };

export type InboxNotice = { "event": "files", files: Array<InboxFile>, } | { "event": "folder_unavailable", folder: string, reason: string, } | { "event": "folder_available", folder: string, } | { "event": "failed", error: ErrorPayload, };

export type Notation = "fdi" | "universal" | "palmer";

export type ToothLabel = { 
/**
 * The stored FDI code.
 */
fdi: number, 
/**
 * As written in the requested notation.
 */
label: string, 
/**
 * 1 upper right, 2 upper left, 3 lower left, 4 lower right (the patient's sides).
 */
quadrant: number, position: number, primary: boolean, };

export type ToothChart = { notation: Notation, teeth: Array<ToothLabel>, };

export type Slot = { name: string, 
/**
 * The kind its image gets: intraoral, extraoral, xray, document or other.
 */
kind: string, 
/**
 * FDI codes, `"16,17"`, given to the image when it has none.
 */
teeth: string | null, 
/**
 * Clockwise degrees (0, 90, 180, 270) the image is turned in the mount.
 */
rotation: number, 
/**
 * Place in the mount's grid, from 0.
 */
row: number, col: number, };

export type Template = { id: string, name: string, columns: number, rows: number, 
/**
 * In capture order.
 */
slots: Array<Slot>, builtin: boolean, };

export type Series = { id: string, patient_id: string, template: Template, title: string, started_at: string, created_by: string, };

export type SlotView = { 
/**
 * From 0, in capture order.
 */
index: number, slot: Slot, document_id: string | null, 
/**
 * That document's version: its thumbnails change with its adjustments, and a window
 * that shows the mount asks for them anew when it moves on.
 */
document_version: number | null, 
/**
 * Documents this slot held before retakes, oldest first (still in the gallery).
 */
earlier: Array<string>, };

export type SeriesView = { series: Series, slots: Array<SlotView>, 
/**
 * The first empty slot, in capture order; none when the series is complete.
 */
next: number | null, };

export type CaptureOutcome = { file: FileResult, 
/**
 * The slot of the capture session it was placed in.
 */
slot: number | null, };

export type NewTemplate = { name: string, columns: number, rows: number, slots: Array<Slot>, };

export type Originals = "all" | "on-open";

export type SyncConfig = { endpoint: string, region: string, bucket: string, 
/**
 * Key prefix inside the bucket ("" or e.g. "clinic-a"), without slashes at either end.
 */
prefix: string, 
/**
 * Path-style addressing (`endpoint/bucket/key`), which MinIO and Ceph need; otherwise
 * virtual-hosted (`bucket.endpoint/key`).
 */
path_style: boolean, access_key: string, originals: Originals, 
/**
 * The clinic's own certificate authority (PEM), trusted besides the system's: for a
 * bucket behind a certificate the clinic issued.
 */
ca_cert: string | null, 
/**
 * Plain HTTP to a host other than this machine: the keys and images travel unencrypted.
 * Only when asked for by name (`--allow-insecure-http`).
 */
allow_insecure_http: boolean, 
/**
 * The id of the clinic key every object is sealed with (the key itself is in the
 * keychain); `None` for a bucket kept unencrypted. Set by configure from the bucket,
 * never typed.
 */
encryption: string | null, };

export type SecretLocation = { "kind": "keychain" } | { "kind": "file", path: string, };

export type SyncState = "off" | "offline" | "syncing" | "up_to_date" | "error";

export type Backlog = { 
/**
 * Originals, thumbnails and change segments not in the bucket yet.
 */
to_upload: number, 
/**
 * Peer segments seen in the bucket and not applied yet, plus thumbnails and originals
 * to download.
 */
to_apply: number, to_download: number, };

export type EncryptionState = "on" | "off" | "migrating";

export type SyncStatus = { state: SyncState, 
/**
 * When the current state began (offline since…, error since…).
 */
since: string | null, 
/**
 * Offline: when the next attempt is due.
 */
next_try: string | null, 
/**
 * Offline or error: what went wrong and what to do.
 */
message: string | null, code: string | null, backlog: Backlog, last_success_at: string | null, 
/**
 * Seconds this clock is ahead of the server's (negative: behind).
 */
clock_skew_seconds: number | null, warnings: Array<string>, encryption: EncryptionState, };

export type SyncSetUp = { secret: SecretLocation, 
/**
 * Whether every object is sealed with the clinic key.
 */
encryption: boolean, key_id: string | null, 
/**
 * The recovery key of a clinic key this set-up made: to print and keep, shown only now.
 */
recovery_key: string | null, };

export type ResealStarted = { key_id: string, recovery_key: string, };

export type SyncEvent = { status: SyncStatus, 
/**
 * The round brought records, thumbnails or originals from peers: views should reload.
 */
changed: boolean, };

export type SyncSettings = { config: SyncConfig | null, secret: SecretLocation, };

export type Check = { name: string, ok: boolean, detail: string, };

export type TierTransition = { days: number, storage_class: string, };

export type LifecycleReport = { transitions: Array<TierTransition>, abort_incomplete_multipart_days: number, 
/**
 * Storage classes the server refused, with its answer.
 */
refused: Array<string>, 
/**
 * The configuration as read back from the server.
 */
installed_xml: string, };

export type ShareLink = { document_id: string, url: string, expires_at: string, };

export type HealthLevel = "ok" | "attention" | "problem";

export type Finding = { level: HealthLevel, 
/**
 * `disk`, `backup`, `verify`, `thumbnails`, `sync`, `audit`, `scanning`.
 */
area: string, message: string, };

export type DiskHealth = { path: string, 
/**
 * `None` where the system does not say (see the README's portability notes).
 */
free_bytes: number | null, total_bytes: number | null, 
/**
 * Imports are refused below this.
 */
min_free_bytes: number, };

export type VerifyRun = { at: string, ok: boolean, originals_checked: number, corrupt: number, missing: number, orphans: number, database_ok: boolean, thumbnails_failed: number, };

export type AuditState = { ok: boolean, events_checked: number, problem: string | null, };

export type SizeRow = { kind: string, year: string, documents: number, bytes: number, };

export type ThumbnailBacklog = { pending: number, failed: number, 
/**
 * Files no thumbnail can be made of (an encrypted PDF…): stored, shown with an icon.
 */
unsupported: number, };

export type BackupSchedule = { 
/**
 * The backup folder (a USB disk, a mounted NAS share); `None`: no scheduled backup.
 */
target: string | null, 
/**
 * Hours between backups (default 24).
 */
every_hours: number, 
/**
 * Also back up when the app closes.
 */
at_close: boolean, 
/**
 * Database snapshots kept in the folder.
 */
keep: number, };

export type BackupRun = { at: string, target: string, ok: boolean, snapshot: string | null, 
/**
 * Why it failed, or the files it could not back up.
 */
error: string | null, error_code: string | null, seconds: number, };

export type BackupState = { schedule: BackupSchedule, last_run: BackupRun | null, last_good: BackupRun | null, 
/**
 * A scheduled backup should run now.
 */
due: boolean, 
/**
 * The last good backup is older than the schedule allows (by more than an hour's grace),
 * or there never was one while a target is set.
 */
overdue: boolean, 
/**
 * The target folder is not there (a USB disk unplugged, a share not mounted).
 */
target_missing: boolean, };

export type BackupReport = { target: string, 
/**
 * The new snapshot's name (its UTC time, `20261202T134501Z`; `…Z-002` for a second one
 * in the same second).
 */
snapshot: string, created_at: string, originals: number, originals_bytes: number, 
/**
 * Originals this workstation has never downloaded (kept in the clinic's bucket): named by
 * the snapshot, not in the folder.
 */
originals_not_here: number, thumbnails: number, 
/**
 * Files copied by this run (the others were in the folder already).
 */
files_copied: number, bytes_copied: number, database_bytes: number, 
/**
 * Bytes of the database written by this run: only the parts that changed since the last.
 */
database_bytes_written: number, 
/**
 * Snapshots removed because more than `keep` were there.
 */
snapshots_removed: Array<string>, 
/**
 * Files of the library that could not be backed up (damaged or unreadable originals):
 * the snapshot is still written, and names them as missing.
 */
problems: Array<string>, seconds: number, };

export type ScanningState = { on: boolean, 
/**
 * clamd's socket path or `tcp://HOST:PORT`.
 */
address: string | null, 
/**
 * clamd's version line, when it answered just now.
 */
version: string | null, 
/**
 * Why it did not answer.
 */
problem: string | null, };

export type Health = { level: HealthLevel, findings: Array<Finding>, documents: number, bytes: number, by_kind_and_year: Array<SizeRow>, database_bytes: number, disk: DiskHealth, thumbnails: ThumbnailBacklog, sync: SyncStatus, backup: BackupState, last_verify: VerifyRun | null, 
/**
 * The chain re-checked now; `None` in the quick check the status bar polls.
 */
audit: AuditState | null, 
/**
 * Virus scanning of imports: off until a ClamAV daemon is configured.
 */
scanning: ScanningState, };

export type Permission = "view_images" | "acquire" | "edit_metadata" | "adjust" | "archive" | "restore" | "move" | "export" | "sign" | "manage_patients" | "manage_users" | "configure" | "view_audit";

export type Role = { name: string, permissions: Array<Permission>, updated_at: string, };

export type User = { id: string, name: string, role: string, disabled: boolean, has_pin: boolean, created_at: string, created_by: string, updated_at: string, };

export type SessionState = { 
/**
 * The library has users: somebody must be signed in to use it.
 */
users: boolean, user: string | null, role: string | null, permissions: Array<Permission>, locked: boolean, 
/**
 * Idle time after which the window locks.
 */
lock_after_seconds: number, };

export type Signature = { id: string, document_id: string, signed_by: string, signed_at: string, workstation: string, sha256: string, 
/**
 * The document's version where it was signed.
 */
edit_version: number, 
/**
 * The document is still as it was signed.
 */
valid: boolean, 
/**
 * The first edit after signing recorded here, if any (it ended the signature's validity).
 */
changed_after: ChangedAfter | null, };

export type ChangedAfter = { by: string, at: string, action: string, };

export type NewUserInput = { name: string, role: string, password: string, pin: string | null, };

export type AuditRow = { seq: number, at: string, user: string, workstation: string, action: string, entity_type: string, entity_id: string | null, 
/**
 * The event's details as JSON text.
 */
detail: string, };

export type AuditQueryInput = { patient: string | null, user: string | null, action: string | null, since: string | null, until: string | null, limit: number | null, };

export type PeerChain = { workstation: string, events_checked: number, ok: boolean, problem: string | null, };

export type AuditCheck = { ok: boolean, events_checked: number, problem: string | null, peers: Array<PeerChain>, };

export type Flip = "none" | "h" | "v";

export type Adjustments = { 
/**
 * Quarter turns clockwise: 0, 90, 180 or 270.
 */
rotate: number, flip: Flip, 
/**
 * Free rotation (degrees, clockwise, −45 to 45) about the centre, before the crop.
 */
straighten: number, 
/**
 * x, y, width, height in the straightened original's pixels.
 */
crop: [number, number, number, number] | null, 
/**
 * Centre and width in the image's own values (a DICOM's modality units, 0–65535 for a
 * 16-bit image, 0–255 for a photo). `None`: the file's own window, else its full range.
 */
window: [number, number] | null, 
/**
 * −100 to 100.
 */
brightness: number, 
/**
 * −100 to 100.
 */
contrast: number, 
/**
 * 0.1 to 10; 1 leaves the mid-tones.
 */
gamma: number, invert: boolean, 
/**
 * 0 (none) to 10.
 */
sharpen: number, 
/**
 * The preset these came from, for people (its values are copied in).
 */
preset: string | null, };

export type AnnotationType = "arrow" | "line" | "text" | "freehand" | "rect" | "ellipse" | "length" | "angle" | "area";

export type Measurement = { value: number, 
/**
 * mm, px, deg, mm2 or px2.
 */
unit: string, calibrated: boolean, };

export type Annotation = { id: string, type: AnnotationType, points: Array<[number, number]>, text: string | null, color: string, width: number, measurement: Measurement | null, created_by: string, created_at: string, };

export type CalibrationSource = "dicom" | "user" | "none";

export type Calibration = { id: string, mm_per_pixel: number | null, source: CalibrationSource, };

export type AnnotationInput = { type: AnnotationType, points: Array<[number, number]>, text: string | null, color: string | null, width: number | null, };

export type Adjusted = { id: string, adjustments: Adjustments, version: number, };

export type Preset = { name: string, brightness: number, contrast: number, gamma: number, invert: boolean, sharpen: number, 
/**
 * Built in, or the clinic's own.
 */
built_in: boolean, };

export type MoveStatus = "moved" | "unchanged";

export type Moved = { id: string, new_id: string, status: MoveStatus, 
/**
 * The links that ended: `owner_type:owner_id`.
 */
ended_links: Array<string>, };

export type Rendered = { path: string, width: number, height: number, bytes: number, };

export type AdjustInput = { reset: boolean, preset?: string, rotate?: number, flip?: Flip, straighten?: number, crop?: [number, number, number, number] | null, window?: [number, number] | null, brightness?: number, contrast?: number, gamma?: number, invert?: boolean, sharpen?: number, };

export type Exported = { path: string, documents: number, bytes: number, 
/**
 * Documents with no image to put on a page (a PDF export of a scanned PDF).
 */
skipped: Array<string>, };

export type VideoInfo = { 
/**
 * Seconds (0 when the container does not say).
 */
duration_s: number, 
/**
 * FFmpeg's name of the video codec: `h264`, `hevc`, `vp9`, `av1`, `svq1`…
 */
codec: string, 
/**
 * As displayed, after rotation.
 */
width: number, height: number, fps: number | null, 
/**
 * Clockwise degrees the stored frames are turned by for display (0, 90, 180, 270).
 */
rotation: number, 
/**
 * The audio codec, when there is an audio track.
 */
audio: string | null, 
/**
 * Whether the app's webview plays the original as it is; if not, a proxy is made.
 */
playable: boolean, };

export type VideoSource = { state: string, proxy: boolean, 
/**
 * Where the player reads it: the app's loopback video server (`video_server.rs`).
 */
url: string, };

export type SavedFrame = { 
/**
 * The new photo (or the one saved before from the same frame).
 */
document_id: string, video_id: string, at_s: number, width: number, height: number, 
/**
 * False when the same frame had been saved already: the existing photo is returned.
 */
new: boolean, };

export type Command = "app_ready" | "library_status" | "list_patients" | "get_patient" | "add_patient" | "update_patient" | "list_documents" | "show_document" | "update_document" | "archive_document" | "restore_document" | "import_files" | "link_document" | "unlink_document" | "owner_documents" | "list_notes" | "add_note" | "edit_note" | "list_plans" | "add_plan" | "add_plan_item" | "get_active_patient" | "set_active_patient" | "inbox_folders" | "set_inbox_folder" | "remove_inbox_folder" | "inbox_files" | "assign_inbox_files" | "tooth_chart" | "set_tooth_notation" | "series_templates" | "add_series_template" | "show_series" | "list_series" | "start_capture" | "capture_session" | "resume_capture" | "place_in_series" | "capture_still" | "sync_settings" | "sync_status" | "sync_configure" | "sync_change_passphrase" | "sync_reseal" | "sync_test" | "sync_now" | "sync_share" | "sync_lifecycle_install" | "health" | "set_min_free_space" | "set_scanning" | "backup_state" | "set_backup_schedule" | "backup_now" | "session" | "sign_in" | "sign_out" | "lock_window" | "set_lock_after" | "add_user" | "list_users" | "edit_user" | "set_user_secrets" | "list_roles" | "edit_role" | "open_patient" | "sign_document" | "adjust_document" | "adjust_presets" | "annotate_document" | "remove_annotation" | "calibrate_document" | "move_documents" | "render_document" | "grey_view" | "video_source" | "save_video_frame" | "print_series" | "export_documents" | "audit_events" | "audit_verify" | "audit_export_csv";
