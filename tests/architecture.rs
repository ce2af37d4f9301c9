//! The layering rules, read from `cargo metadata`: media never depends on the modules that
//! attach documents to their records, and no domain crate depends on Tauri; and the schema's
//! rule that every table holding a record refuses DELETE.

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

use serde_json::Value;

/// This machine's target triple: the dependency graph is read for it alone, so no crate of
/// another platform has to be downloaded.
fn host_triple() -> String {
    let out = Command::new("rustc").arg("-vV").output().expect("run rustc -vV");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().find_map(|l| l.strip_prefix("host: ")).expect("rustc reports its host").to_string()
}

fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--filter-platform",
            &host_triple(),
            "--manifest-path",
        ])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"))
        .output()
        .expect("run cargo metadata");
    assert!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("metadata json")
}

/// Every package `name` depends on, directly or not (normal and build dependencies).
fn transitive_deps(meta: &Value, name: &str) -> BTreeSet<String> {
    let names: HashMap<&str, &str> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| (p["id"].as_str().expect("id"), p["name"].as_str().expect("name")))
        .collect();
    let nodes: HashMap<&str, &Value> = meta["resolve"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| (n["id"].as_str().expect("id"), n))
        .collect();
    let start =
        names.iter().find(|(_, n)| **n == name).map(|(id, _)| *id).unwrap_or_else(|| panic!("{name} is a package"));
    let mut seen = BTreeSet::new();
    let mut stack = vec![start];
    while let Some(id) = stack.pop() {
        for dep in nodes[id]["deps"].as_array().expect("deps") {
            let is_dev_only = dep["dep_kinds"].as_array().expect("kinds").iter().all(|k| k["kind"] == "dev");
            let dep_id = dep["pkg"].as_str().expect("pkg");
            if !is_dev_only && seen.insert(names[dep_id].to_string()) {
                stack.push(dep_id);
            }
        }
    }
    seen
}

#[test]
fn media_does_not_depend_on_its_consumers() {
    let meta = metadata();
    let deps = transitive_deps(&meta, "chairside-media");
    let consumers =
        ["chairside-clinical-notes", "chairside-treatment-plan", "chairside-app", "chairside-cli", "chairside-bench"];
    for c in consumers {
        assert!(!deps.contains(c), "media must never depend on {c}: owner types plug in through OwnerSpec instead");
    }
    assert!(deps.contains("chairside-owner"), "media reaches owners only through the owner contract");
}

#[test]
fn domain_crates_know_nothing_of_tauri() {
    let meta = metadata();
    let domain = [
        "chairside-store",
        "chairside-audit",
        "chairside-owner",
        "chairside-patients",
        "chairside-media",
        "chairside-clinical-notes",
        "chairside-treatment-plan",
        "chairside-app",
        "chairside-cli",
    ];
    for krate in domain {
        let deps = transitive_deps(&meta, krate);
        let gui: Vec<_> =
            deps.iter().filter(|d| d.starts_with("tauri") || d.starts_with("wry") || d.starts_with("webkit")).collect();
        assert!(gui.is_empty(), "{krate} depends on GUI crates {gui:?}: domain crates must build without a window");
    }
}

/// Tables that hold working state, not records, and so may lose rows — each with the reason.
/// Every other table must refuse DELETE in the database (a trigger), so that a table added
/// later without one fails here.
const OPERATIONAL_TABLES: &[(&str, &str)] = &[
    ("settings", "configuration: a key is removed when a setting is cleared (sync configuration)"),
    ("inbox_folders", "configuration: a watched folder is removed when the user stops watching it"),
    ("sync_multipart", "an upload's parts in flight, dropped once the object is complete"),
    ("staged_files", "partial files being written (exports), dropped once finished or cleaned"),
];

#[test]
fn every_table_that_holds_a_record_refuses_delete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = chairside_store::Db::open(&dir.path().join("lib.sqlite3")).expect("open");
    let conn = db.conn().expect("conn");
    let names = |sql: &str| -> Vec<String> {
        let mut stmt = conn.prepare(sql).expect("prepare");
        stmt.query_map([], |r| r.get(0)).expect("query").collect::<Result<_, _>>().expect("rows")
    };
    let tables =
        names("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name");
    assert!(tables.len() > 20, "the schema is read: {tables:?}");
    let guarded: BTreeSet<String> = names(
        "SELECT tbl_name FROM sqlite_master WHERE type = 'trigger'
         AND sql LIKE '%BEFORE DELETE ON%' AND sql LIKE '%RAISE(ABORT%'",
    )
    .into_iter()
    .collect();
    let exempt: BTreeSet<&str> = OPERATIONAL_TABLES.iter().map(|(t, _)| *t).collect();
    let unguarded: Vec<&String> =
        tables.iter().filter(|t| !guarded.contains(*t) && !exempt.contains(t.as_str())).collect();
    assert!(
        unguarded.is_empty(),
        "these tables accept DELETE: add a `BEFORE DELETE … RAISE(ABORT …)` trigger in their migration, or name \
         them in OPERATIONAL_TABLES with the reason they hold no record: {unguarded:?}"
    );
    for t in &exempt {
        assert!(tables.iter().any(|n| n == t), "{t} is exempt but no longer exists: drop it from the list");
        assert!(!guarded.contains(*t), "{t} is exempt yet guarded: drop it from the list");
    }
}
