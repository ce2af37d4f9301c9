//! Users, roles, sign-in and signatures through the real binary: the contract of issue 15's
//! command line (exit status 3 and its codes, the JSON of `sign` and `show`, `audit list`
//! filters and CSV) and the attacks it names.

mod support;

use std::process::Command;

use serde_json::Value;
use support::{Lib, Run, fixture, parse};

const OWNER_PW: &str = "owner password 1";
const DESK_PW: &str = "front desk pw 2";
const DENTIST_PW: &str = "dentist password";

/// The library as `name` signed in with `password`.
fn as_user(lib: &Lib, name: &str, password: &str) -> Command {
    let mut c = lib.command();
    c.env("CHAIRSIDE_USER", name).env("CHAIRSIDE_PASSWORD", password);
    c
}

fn run(mut c: Command, args: &[&str]) -> Run {
    parse(c.arg("--json").args(args).output().expect("run chairside"))
}

fn ok(c: Command, args: &[&str]) -> Value {
    let r = run(c, args);
    assert_eq!(r.code, 0, "{args:?}: {}\n{}", r.stdout, r.stderr);
    r.json
}

fn add_user(lib: &Lib, by: Option<(&str, &str)>, name: &str, role: &str, password: &str, pin: Option<&str>) -> Run {
    let mut c = match by {
        Some((n, p)) => as_user(lib, n, p),
        None => lib.command(),
    };
    c.env("CHAIRSIDE_NEW_PASSWORD", password);
    let mut args = vec!["user", "add", "--name", name, "--role", role];
    if let Some(pin) = pin {
        c.env("CHAIRSIDE_NEW_PIN", pin);
        args.push("--pin");
    }
    run(c, &args)
}

/// A library with a patient and one photo made before it had users, then an owner, a front
/// desk user and a dentist.
fn clinic() -> (Lib, String, String) {
    let lib = Lib::new();
    let patient = lib.patient("Ada Lovelace");
    let doc = lib.import(&patient, &[&fixture("orient_1.jpg")]).json["results"][0]["document_id"]
        .as_str()
        .expect("imported")
        .to_string();
    let owner = add_user(&lib, None, "Olga", "owner", OWNER_PW, Some("2468"));
    assert_eq!(owner.code, 0, "{}", owner.stderr);
    assert_eq!(owner.json["role"], "owner");
    assert!(owner.stderr.contains("--user"), "the first user is told what changes: {}", owner.stderr);
    for (name, role, pw) in [("Fran", "front_desk", DESK_PW), ("Dirk", "dentist", DENTIST_PW)] {
        let r = add_user(&lib, Some(("olga", OWNER_PW)), name, role, pw, None);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    (lib, patient, doc)
}

fn code(r: &Run) -> &str {
    r.json["error"]["code"].as_str().unwrap_or("")
}

#[test]
fn a_library_made_before_users_keeps_working_until_the_first_user_then_asks_who_is_there() {
    let lib = Lib::new();
    let first = add_user(&lib, None, "Anna", "dentist", OWNER_PW, None);
    assert_eq!((first.code, code(&first)), (2, "invalid_input"), "the first user is an owner");
    let patient = lib.patient("Before Users");
    assert_eq!(add_user(&lib, None, "Anna", "owner", "short", None).code, 2, "a weak password is refused");
    assert_eq!(add_user(&lib, None, "Anna", "owner", OWNER_PW, None).code, 0);

    let mut anonymous = lib.command();
    anonymous.env_remove("CHAIRSIDE_USER");
    let r = run(anonymous, &["patient", "list"]);
    assert_eq!((r.code, code(&r)), (3, "auth_required"), "{}", r.stderr);
    let mut no_password = lib.command();
    no_password.env("CHAIRSIDE_USER", "anna").env_remove("CHAIRSIDE_PASSWORD").stdin(std::process::Stdio::null());
    let r = run(no_password, &["patient", "list"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    let list = ok(as_user(&lib, "ANNA", OWNER_PW), &["patient", "list"]);
    assert_eq!(list[0]["id"], patient.as_str(), "the records made before users are all there");
    // --user before the command works as CHAIRSIDE_USER does.
    let mut c = lib.command();
    c.env_remove("CHAIRSIDE_USER").env("CHAIRSIDE_PASSWORD", OWNER_PW).args(["--user", "anna"]);
    ok(c, &["patient", "list"]);
}

#[test]
fn wrong_passwords_unknown_names_and_disabled_users_are_refused_with_exit_3_and_audited() {
    let (lib, patient, _doc) = clinic();
    for (name, pw) in [("olga", "wrong password"), ("nobody", "wrong password")] {
        let r = run(as_user(&lib, name, pw), &["patient", "list"]);
        assert_eq!((r.code, code(&r)), (3, "auth_failed"), "{name}: {}", r.stderr);
        assert!(!r.stderr.contains("nobody") || r.stderr.contains("wrong name or password"), "{}", r.stderr);
    }
    ok(as_user(&lib, "olga", OWNER_PW), &["user", "edit", "dirk", "--disable"]);
    let r = run(as_user(&lib, "dirk", DENTIST_PW), &["list", "--patient", &patient]);
    assert_eq!((r.code, code(&r)), (3, "auth_failed"));
    assert!(r.stderr.contains("disabled"), "{}", r.stderr);
    ok(as_user(&lib, "olga", OWNER_PW), &["user", "edit", "dirk", "--enable"]);
    ok(as_user(&lib, "dirk", DENTIST_PW), &["list", "--patient", &patient]);

    let failed = ok(as_user(&lib, "olga", OWNER_PW), &["audit", "list", "--action", "sign_in_failed"]);
    let failed = failed.as_array().expect("events");
    assert_eq!(failed.len(), 3, "two wrong secrets and a disabled account: {failed:?}");
    assert!(failed.iter().any(|e| e["detail"]["name"] == "nobody" && e["detail"]["reason"] == "wrong_secret"));
    assert!(failed.iter().any(|e| e["detail"]["reason"] == "disabled"));
    assert!(failed.iter().all(|e| !e["detail"].to_string().contains("wrong password")), "no secret in the trail");
}

#[test]
fn the_front_desk_may_not_archive_or_export_and_nothing_changes() {
    let (lib, patient, doc) = clinic();
    let out = lib.path().join("export.zip");
    let out_s = out.to_str().expect("path");
    for args in [
        vec!["archive", doc.as_str()],
        vec!["export", "--patient", patient.as_str(), "--out", out_s],
        vec!["list", "--patient", patient.as_str()],
        vec!["user", "add", "--name", "Eve", "--role", "owner"],
    ] {
        let r = run(as_user(&lib, "fran", DESK_PW), &args);
        assert_eq!((r.code, code(&r)), (3, "forbidden"), "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("front_desk"), "the refusal names the role: {}", r.stderr);
    }
    assert!(r_message_names_permission(&lib, &doc));
    assert!(!out.exists(), "no export was written");
    let shown = ok(as_user(&lib, "dirk", DENTIST_PW), &["show", &doc]);
    assert_eq!(shown["status"], "active", "not archived");
    // What front desk may do, it does.
    ok(as_user(&lib, "fran", DESK_PW), &["patient", "add", "--name", "Walk In"]);
    let refused = ok(as_user(&lib, "olga", OWNER_PW), &["audit", "list", "--action", "forbidden", "--user", "Fran"]);
    assert_eq!(refused.as_array().map(Vec::len), Some(5), "{refused}");
}

fn r_message_names_permission(lib: &Lib, doc: &str) -> bool {
    let r = run(as_user(lib, "fran", DESK_PW), &["archive", doc]);
    r.stderr.contains("\"archive\"") && r.json["error"]["message"].as_str().is_some_and(|m| m.contains("archive"))
}

#[test]
fn a_role_edited_takes_effect_at_the_next_command_and_the_last_owner_stays() {
    let (lib, patient, _doc) = clinic();
    let r = run(as_user(&lib, "fran", DESK_PW), &["list", "--patient", &patient]);
    assert_eq!(r.code, 3);
    let role = ok(as_user(&lib, "olga", OWNER_PW), &["role", "edit", "front_desk", "--allow", "view_images"]);
    assert!(role["permissions"].as_array().expect("list").iter().any(|p| p == "view_images"));
    ok(as_user(&lib, "fran", DESK_PW), &["list", "--patient", &patient]);
    let r = run(as_user(&lib, "olga", OWNER_PW), &["role", "edit", "front_desk", "--allow", "fly"]);
    assert_eq!(r.code, 2);
    let r = run(as_user(&lib, "olga", OWNER_PW), &["role", "edit", "owner", "--deny", "manage_users"]);
    assert_eq!(r.code, 2, "the owner role keeps everything");

    for args in [["user", "edit", "olga", "--role", "dentist"], ["user", "edit", "olga", "--disable", ""]] {
        let args: Vec<&str> = args.into_iter().filter(|a| !a.is_empty()).collect();
        let r = run(as_user(&lib, "olga", OWNER_PW), &args);
        assert_eq!((r.code, code(&r)), (2, "last_owner"), "{args:?}: {}", r.stderr);
    }
    let roles = ok(as_user(&lib, "fran", DESK_PW), &["role", "list"]);
    assert_eq!(roles.as_array().map(Vec::len), Some(6));
    let users = ok(as_user(&lib, "olga", OWNER_PW), &["user", "list"]);
    assert!(users.to_string().find("argon2").is_none(), "hashes never leave the library: {users}");
    assert_eq!(users.as_array().map(Vec::len), Some(3));
}

#[test]
fn a_forgotten_password_is_reset_by_the_owner_and_users_change_their_own() {
    let (lib, _patient, _doc) = clinic();
    let mut c = as_user(&lib, "fran", DESK_PW);
    c.env("CHAIRSIDE_NEW_PASSWORD", "a new one for fran");
    ok(c, &["user", "password", "fran"]);
    let mut c = as_user(&lib, "fran", "a new one for fran");
    c.env("CHAIRSIDE_NEW_PASSWORD", "fran tries dirk's");
    assert_eq!(run(c, &["user", "password", "dirk"]).code, 3, "only the owner sets another's password");
    let mut c = as_user(&lib, "olga", OWNER_PW);
    c.env("CHAIRSIDE_NEW_PASSWORD", "reset by the owner");
    ok(c, &["user", "password", "fran"]);
    assert_eq!(run(as_user(&lib, "fran", "a new one for fran"), &["role", "list"]).code, 3);
    ok(as_user(&lib, "fran", "reset by the owner"), &["role", "list"]);
}

#[test]
fn five_wrong_passwords_lock_the_name_out_even_for_the_right_one() {
    let (lib, _patient, _doc) = clinic();
    for n in 1..=5 {
        let r = run(as_user(&lib, "dirk", &format!("guess {n:04}")), &["role", "list"]);
        let expected = if n < 5 { "auth_failed" } else { "locked_out" };
        assert_eq!((r.code, code(&r)), (3, expected), "attempt {n}: {}", r.stderr);
    }
    let r = run(as_user(&lib, "dirk", DENTIST_PW), &["role", "list"]);
    assert_eq!((r.code, code(&r)), (3, "locked_out"), "the right password waits out the delay too");
    assert!(r.stderr.contains("seconds"), "{}", r.stderr);
    ok(as_user(&lib, "olga", OWNER_PW), &["role", "list"]);
    let events = ok(as_user(&lib, "olga", OWNER_PW), &["audit", "list", "--action", "sign_in_failed"]);
    assert_eq!(events.as_array().map(Vec::len), Some(6), "every attempt is audited");
}

#[test]
fn a_signature_binds_the_original_and_an_edit_after_it_ends_its_validity() {
    let (lib, patient, doc) = clinic();
    let r = run(as_user(&lib, "fran", DESK_PW), &["sign", &doc]);
    assert_eq!((r.code, code(&r)), (3, "forbidden"));
    let sig = ok(as_user(&lib, "dirk", DENTIST_PW), &["sign", &doc]);
    let keys: Vec<&str> = sig.as_object().expect("object").keys().map(String::as_str).collect();
    assert_eq!(keys, ["edit_version", "id", "sha256", "signed_at", "signed_by"]);
    assert_eq!(sig["signed_by"], "Dirk");
    let shown = ok(as_user(&lib, "dirk", DENTIST_PW), &["show", &doc]);
    assert_eq!(sig["sha256"], shown["sha256"]);
    assert_eq!(shown["signatures"][0]["valid"], true);
    assert_eq!(shown["signatures"][0]["id"], sig["id"]);

    ok(as_user(&lib, "olga", OWNER_PW), &["edit", &doc, "--teeth", "16"]);
    let shown = ok(as_user(&lib, "dirk", DENTIST_PW), &["show", &doc]);
    let s = &shown["signatures"][0];
    assert_eq!(s["valid"], false, "{shown}");
    assert_eq!(s["changed_after"]["by"], "Olga");
    // An edit undone does not make it valid again; a new signature does.
    ok(as_user(&lib, "olga", OWNER_PW), &["edit", &doc, "--teeth", ""]);
    assert_eq!(ok(as_user(&lib, "dirk", DENTIST_PW), &["show", &doc])["signatures"][0]["valid"], false);
    ok(as_user(&lib, "dirk", DENTIST_PW), &["sign", &doc]);
    let shown = ok(as_user(&lib, "dirk", DENTIST_PW), &["show", &doc]);
    let sigs = shown["signatures"].as_array().expect("list");
    assert_eq!((sigs.len(), &sigs[0]["valid"], &sigs[1]["valid"]), (2, &Value::from(false), &Value::from(true)));

    let signed = ok(as_user(&lib, "olga", OWNER_PW), &["audit", "list", "--patient", &patient, "--action", "sign"]);
    assert_eq!(signed.as_array().map(Vec::len), Some(2));
}

#[test]
fn audit_list_filters_by_patient_user_action_and_time_and_writes_csv() {
    let (lib, patient, doc) = clinic();
    let other = {
        let c = as_user(&lib, "dirk", DENTIST_PW);
        ok(c, &["patient", "add", "--name", "Other Patient"])["id"].as_str().expect("id").to_string()
    };
    ok(as_user(&lib, "dirk", DENTIST_PW), &["archive", &doc]);
    let owner = || as_user(&lib, "olga", OWNER_PW);
    let mine = ok(owner(), &["audit", "list", "--patient", &patient]);
    let mine = mine.as_array().expect("events");
    let actions: Vec<&str> = mine.iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"patient_create") && actions.contains(&"import") && actions.contains(&"archive"));
    assert!(mine.iter().all(|e| e["entity_id"] != other.as_str()), "another patient's events are left out");
    let by_dirk = ok(owner(), &["audit", "list", "--user", "Dirk"]);
    assert!(by_dirk.as_array().expect("events").iter().all(|e| e["actor"] == "Dirk"));
    assert!(by_dirk.as_array().expect("events").iter().any(|e| e["action"] == "archive"));
    let future = ok(owner(), &["audit", "list", "--since", "2999-01-01"]);
    assert_eq!(future.as_array().map(Vec::len), Some(0));
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let through_today = ok(owner(), &["audit", "list", "--until", &today, "--patient", &patient]);
    assert_eq!(through_today.as_array().map(Vec::len), Some(mine.len()), "--until a date includes that day");
    assert_eq!(run(owner(), &["audit", "list", "--since", "yesterday"]).code, 2);
    assert_eq!(run(as_user(&lib, "dirk", DENTIST_PW), &["audit", "list"]).code, 3, "the audit is the owner's");

    let csv = lib.path().join("audit.csv");
    let csv_s = csv.to_str().expect("path");
    ok(owner(), &["audit", "list", "--patient", &patient, "--csv", csv_s]);
    let text = std::fs::read_to_string(&csv).expect("csv");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("seq,at,user,workstation,action,entity_type,entity_id,detail"));
    assert_eq!(lines.count(), mine.len());
    assert!(text.contains("\"archive\""));
    assert_eq!(run(owner(), &["audit", "list", "--csv", csv_s]).code, 2, "never over an existing file");
}

#[test]
fn a_whole_mount_is_signed_at_once_by_a_user_allowed_to_sign() {
    let (lib, patient, doc) = clinic();
    let dirk = || as_user(&lib, "dirk", DENTIST_PW);
    let templates = ok(dirk(), &["series", "templates"]);
    let template = templates[0]["id"].as_str().expect("a template").to_string();
    let series = ok(dirk(), &["series", "start", "--patient", &patient, "--template", &template]);
    let series = series["series"]["id"].as_str().expect("series id").to_string();
    let empty = run(dirk(), &["series", "sign", &series]);
    assert_eq!(empty.code, 2, "nothing mounted yet: {}", empty.stderr);
    ok(dirk(), &["series", "place", &series, "--slot", "1", &doc]);
    let r = run(as_user(&lib, "fran", DESK_PW), &["series", "sign", &series]);
    assert_eq!((r.code, code(&r)), (3, "forbidden"));
    let signed = ok(dirk(), &["series", "sign", &series]);
    assert_eq!(signed["signatures"][0]["document_id"], doc.as_str());
    assert_eq!(ok(dirk(), &["show", &doc])["signatures"][0]["valid"], true);
}
