// The app's own commands, shared by build.rs (one `allow-<command>` permission each, which
// `capabilities/main.json` must grant) and the tests that check the handler, the manifest and
// the capability agree. Keep in step with `tauri::generate_handler!` in lib.rs.
pub const COMMANDS: &[&str] = &[
    "app_ready",
    "library_status",
    "list_patients",
    "get_patient",
    "add_patient",
    "update_patient",
    "list_documents",
    "show_document",
    "update_document",
    "archive_document",
    "restore_document",
    "import_files",
    "link_document",
    "unlink_document",
    "owner_documents",
    "list_notes",
    "add_note",
    "edit_note",
    "list_plans",
    "add_plan",
    "add_plan_item",
];
