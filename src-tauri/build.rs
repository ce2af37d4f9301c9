// The app's own commands are listed here so each gets an `allow-<command>` permission that
// `capabilities/main.json` must grant: a command the UI does not use stays unreachable.
fn main() {
    let manifest = tauri_build::AppManifest::new().commands(chairside_commands());
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest)).expect("tauri build script failed");
}

// Keep in step with `tauri::generate_handler!` in src/lib.rs (a test checks the two agree).
fn chairside_commands() -> &'static [&'static str] {
    &[
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
    ]
}
