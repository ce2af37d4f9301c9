use super::*;

fn library() -> (tempfile::TempDir, chairside_store::Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = chairside_store::Db::open(&dir.path().join("lib.sqlite3")).expect("open");
    (dir, db)
}

fn actor() -> Actor {
    Actor { user: "setup".into(), workstation: "ws".into() }
}

fn new_user(name: &str, role: &str) -> NewUser {
    NewUser { name: name.into(), role: role.into(), password: hash_password("correct horse").expect("hash"), pin: None }
}

#[test]
fn the_built_in_roles_name_only_known_permissions() {
    let (_d, db) = library();
    let roles = db.read(list_roles).expect("roles");
    let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ROLES);
    let text: Vec<String> = db
        .read(|c| {
            let mut s = c.prepare("SELECT permissions FROM roles")?;
            let rows = s.query_map([], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
            Ok::<_, StoreError>(rows)
        })
        .expect("rows");
    for t in text {
        let names: Vec<String> = serde_json::from_str(&t).expect("a JSON array");
        assert!(names.iter().all(|n| Permission::parse(n).is_some()), "{t}");
    }
    let front = roles.iter().find(|r| r.name == "front_desk").expect("front desk");
    assert!(!front.permissions.contains(&Permission::Archive) && !front.permissions.contains(&Permission::Export));
    let it = roles.iter().find(|r| r.name == "it").expect("it");
    assert!(!it.permissions.contains(&Permission::ViewImages));
    assert_eq!(roles[0].permissions.len(), Permission::ALL.len());
}

#[test]
fn the_first_user_is_an_owner_and_the_last_owner_stays_one() {
    let (_d, db) = library();
    let err = db.write(|tx| add_user(tx, &actor(), new_user("anna", "dentist"))).expect_err("not an owner");
    assert!(matches!(err, UsersError::FirstUserMustBeOwner));
    let owner = db.write(|tx| add_user(tx, &actor(), new_user("Anna", OWNER))).expect("owner");
    assert_eq!(owner.name, "Anna");
    let again = db.write(|tx| add_user(tx, &actor(), new_user(" ANNA ", "dentist"))).expect_err("same name");
    assert!(matches!(again, UsersError::Exists(_)));
    for change in [(Some("dentist"), None), (None, Some(true))] {
        let e = db.write(|tx| edit_user(tx, &actor(), "anna", change.0, change.1)).expect_err("last owner");
        assert!(matches!(e, UsersError::LastOwner(_)), "{e}");
    }
    db.write(|tx| add_user(tx, &actor(), new_user("ben", OWNER))).expect("second owner");
    let demoted = db.write(|tx| edit_user(tx, &actor(), "anna", Some("dentist"), None)).expect("demoted");
    assert_eq!(demoted.role, "dentist");
    let e = db.write(|tx| edit_user(tx, &actor(), "ben", None, Some(true))).expect_err("ben is the last now");
    assert!(matches!(e, UsersError::LastOwner(_)));
}

#[test]
fn a_role_edit_changes_what_its_users_may_do() {
    let (_d, db) = library();
    db.write(|tx| add_user(tx, &actor(), new_user("anna", OWNER))).expect("owner");
    let carl = db.write(|tx| add_user(tx, &actor(), new_user("carl", "front_desk"))).expect("front desk");
    let g = db.read(|c| grant(c, &carl.id)).expect("grant").expect("user");
    assert!(g.permissions.contains(Permission::ManagePatients) && !g.permissions.contains(Permission::Export));
    let role = db
        .write(|tx| edit_role(tx, &actor(), "front_desk", &[Permission::Export], &[Permission::ManagePatients]))
        .expect("edit");
    assert_eq!(role.permissions, [Permission::Export]);
    let g = db.read(|c| grant(c, &carl.id)).expect("grant").expect("user");
    assert!(g.permissions.contains(Permission::Export) && !g.permissions.contains(Permission::ManagePatients));
    let e = db.write(|tx| edit_role(tx, &actor(), OWNER, &[], &[Permission::ManageUsers])).expect_err("fixed");
    assert!(matches!(e, UsersError::OwnerRoleFixed));
    assert!(db.read(|c| grant(c, "no such id")).expect("grant").is_none());
}

#[test]
fn secrets_are_hashed_checked_and_validated() {
    assert!(matches!(hash_password("short"), Err(UsersError::WeakPassword)));
    for bad in ["123", "123456789", "12a4", ""] {
        assert!(matches!(hash_pin(bad), Err(UsersError::BadPin)), "{bad}");
    }
    let (_d, db) = library();
    let mut new = new_user("anna", OWNER);
    new.pin = Some(hash_pin("4711").expect("pin"));
    db.write(|tx| add_user(tx, &actor(), new)).expect("owner");
    let creds = db.read(|c| credentials(c, "ANNA")).expect("read").expect("found");
    assert!(creds.password_hash.starts_with("$argon2id$v=19$m=65536,t=6,p=1$"), "{}", creds.password_hash);
    assert!(!creds.password_hash.contains("correct horse"));
    assert!(check(Some(&creds), "correct horse", false));
    assert!(!check(Some(&creds), "correct horsE", false));
    assert!(check(Some(&creds), "4711", true));
    assert!(!check(Some(&creds), "4712", true));
    assert!(!check(Some(&creds), "correct horse", true), "the password is not the PIN");
    assert!(!check(None, "correct horse", false));
}

#[test]
fn an_unknown_name_takes_as_long_as_a_wrong_password() {
    let (_d, db) = library();
    db.write(|tx| add_user(tx, &actor(), new_user("anna", OWNER))).expect("owner");
    let creds = db.read(|c| credentials(c, "anna")).expect("read");
    let time = |creds: Option<&Credentials>| {
        let mut runs: Vec<f64> = (0..3)
            .map(|_| {
                let t = std::time::Instant::now();
                assert!(!check(creds, "wrong password", false));
                t.elapsed().as_secs_f64()
            })
            .collect();
        runs.sort_by(f64::total_cmp);
        runs[1]
    };
    let wrong = time(creds.as_ref());
    let unknown = time(None);
    let ratio = unknown / wrong;
    assert!((0.6..1.6).contains(&ratio), "unknown {unknown:.3} s, wrong password {wrong:.3} s");
}

#[test]
fn failures_lock_a_name_for_a_growing_delay_and_a_success_resets_them() {
    let (_d, db) = library();
    for n in 1..MAX_FAILURES {
        let a = db.write(|tx| record_failure(tx, "Anna", 1_000)).expect("failure");
        assert_eq!((a.failures, a.locked_until_ms), (n, 0));
    }
    let a = db.write(|tx| record_failure(tx, "anna", 1_000)).expect("fifth");
    assert_eq!(a.locked_until_ms, 31_000);
    let a = db.write(|tx| record_failure(tx, "anna", 1_000)).expect("sixth");
    assert_eq!(a.locked_until_ms, 61_000, "the delay doubles");
    assert_eq!(lockout_after(40), Some(std::time::Duration::from_secs(3600)));
    db.write(|tx| record_success(tx, "ANNA")).expect("success");
    assert_eq!(db.read(|c| attempts(c, "anna")).expect("read"), Attempts { failures: 0, locked_until_ms: 0 });
}
