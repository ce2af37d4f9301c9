// The app's own commands, declared once. `build.rs` includes this file for the permission
// manifest (one `allow-<command>` each, which `capabilities/main.json` must grant); `lib.rs`
// builds the invoke handler from the same list; `bindings.rs` writes it into the UI's
// `Command` type, which the client in `ui/src/lib/api.ts` and the e2e mock backend are typed
// by; `tests/ipc.rs` checks the capability and that each command has its client function.
// Adding a command: its function in `commands.rs` and its name here.

/// Calls `$then!` with every command's name.
macro_rules! with_app_commands {
    ($then:ident) => {
        $then! {
            app_ready,
            library_status,
            list_patients,
            get_patient,
            add_patient,
            update_patient,
            list_documents,
            show_document,
            update_document,
            archive_document,
            restore_document,
            import_files,
            link_document,
            unlink_document,
            owner_documents,
            list_notes,
            add_note,
            edit_note,
            list_plans,
            add_plan,
            add_plan_item,
            get_active_patient,
            set_active_patient,
            inbox_folders,
            set_inbox_folder,
            remove_inbox_folder,
            inbox_files,
            assign_inbox_files,
            tooth_chart,
            set_tooth_notation,
            series_templates,
            add_series_template,
            show_series,
            list_series,
            start_capture,
            capture_session,
            resume_capture,
            place_in_series,
            capture_still,
            sync_settings,
            sync_status,
            sync_configure,
            sync_change_passphrase,
            sync_reseal,
            sync_test,
            sync_now,
            sync_share,
            sync_lifecycle_install,
            health,
            set_min_free_space,
            set_scanning,
            backup_state,
            set_backup_schedule,
            backup_now,
            session,
            sign_in,
            sign_out,
            lock_window,
            set_lock_after,
            add_user,
            list_users,
            edit_user,
            set_user_secrets,
            list_roles,
            edit_role,
            open_patient,
            sign_document,
            adjust_document,
            adjust_presets,
            annotate_document,
            remove_annotation,
            calibrate_document,
            move_documents,
            render_document,
            grey_view,
            video_source,
            save_video_frame,
            print_series,
            export_documents,
            audit_events,
            audit_verify,
            audit_export_csv
        }
    };
}

macro_rules! command_names {
    ($($c:ident),* $(,)?) => {
        /// Every command the UI may invoke.
        pub const COMMANDS: &[&str] = &[$(stringify!($c)),*];
    };
}

with_app_commands!(command_names);
