// Each app command gets an `allow-<command>` permission that `capabilities/main.json` must
// grant: a command the UI does not use stays unreachable from the webview.
include!("src/command_names.rs");

fn main() {
    let manifest = tauri_build::AppManifest::new().commands(COMMANDS);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest)).expect("tauri build script failed");
}
