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
    let consumers = [
        "chairside-clinical-notes",
        "chairside-treatment-plan",
        "chairside-series",
        "chairside-inbox",
        "chairside-sync",
        "chairside-backup",
        "chairside-app",
        "chairside-cli",
        "chairside-bench",
    ];
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
    // Every crate of the workspace but the desktop shell, found in the metadata: a crate added
    // later is covered without being listed.
    let members: Vec<String> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter(|p| meta["workspace_members"].as_array().is_some_and(|m| m.contains(&p["id"])))
        .filter_map(|p| p["name"].as_str().map(str::to_string))
        .filter(|n| n != "chairside-desktop")
        .collect();
    for listed in domain {
        assert!(members.iter().any(|m| m == listed), "{listed} is not a workspace member any more");
    }
    assert!(members.len() > domain.len(), "the workspace's other crates are checked too: {members:?}");
    for krate in members.iter().map(String::as_str) {
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

/// Each crate that owns tables, with them (`TABLES` in its lib.rs). Every other crate owns none.
fn table_owners() -> Vec<(&'static str, &'static [&'static str])> {
    vec![
        ("crates/store", chairside_store::TABLES),
        ("crates/audit", chairside_audit::TABLES),
        ("crates/patients", chairside_patients::TABLES),
        ("crates/users", chairside_users::TABLES),
        ("crates/media", chairside_media::TABLES),
        ("crates/clinical_notes", chairside_clinical_notes::TABLES),
        ("crates/treatment_plan", chairside_treatment_plan::TABLES),
        ("crates/series", chairside_series::TABLES),
        ("crates/sync", chairside_sync::TABLES),
        ("crates/inbox", chairside_inbox::records::TABLES),
    ]
}

/// Queries that still name another crate's tables, each to move behind its owner's API (the
/// architecture issue). The list may only shrink: an entry that no longer happens fails too.
const NOT_YET_OWNED: &[(&str, &str)] = &[
    // The benchmark seeds 100,000 documents with bare INSERTs (the API would take minutes).
    ("crates/bench", "blobs"),
    ("crates/bench", "documents"),
    ("crates/bench", "thumbnails"),
];

/// The string literals of a Rust file, its `#[cfg(test)]` module left out (tests may set up
/// any table by hand). Comments, char literals and lifetimes are skipped.
fn string_literals(src: &str) -> Vec<String> {
    let src = src.find("#[cfg(test)]\nmod ").map_or(src, |at| &src[..at]);
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => i = src[i..].find('\n').map_or(b.len(), |n| i + n),
            b'/' if b.get(i + 1) == Some(&b'*') => i = src[i..].find("*/").map_or(b.len(), |n| i + n + 2),
            b'\'' if b.get(i + 1) == Some(&b'\\') => i = src[i + 2..].find('\'').map_or(b.len(), |n| i + n + 3),
            b'\'' if b.get(i + 2) == Some(&b'\'') => i += 3,
            b'r' if (b.get(i + 1) == Some(&b'"') || b.get(i + 1) == Some(&b'#'))
                && !b[..i].last().is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_') =>
            {
                let hashes = b[i + 1..].iter().take_while(|c| **c == b'#').count();
                if b.get(i + 1 + hashes) != Some(&b'"') {
                    i += 1;
                    continue;
                }
                let start = i + 2 + hashes;
                let close = format!("\"{}", "#".repeat(hashes));
                let end = src[start..].find(&close).map_or(b.len(), |n| start + n);
                out.push(src[start..end].to_string());
                i = end + close.len();
            }
            b'"' => {
                let mut j = i + 1;
                while j < b.len() && b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                out.push(src[i + 1..j.min(b.len())].to_string());
                i = j + 1;
            }
            _ => i += 1,
        }
    }
    out
}

/// The tables an SQL text names after FROM, JOIN, INTO, UPDATE, TABLE, EXISTS or ON.
fn tables_named(sql: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let words: Vec<&str> =
        sql.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| !w.is_empty()).collect();
    let is_sql =
        words.iter().any(|w| matches!(*w, "SELECT" | "INSERT" | "UPDATE" | "DELETE" | "CREATE" | "DROP" | "ALTER"));
    let mut named = BTreeSet::new();
    if !is_sql {
        return named;
    }
    for pair in words.windows(2) {
        let before = pair[0].to_ascii_uppercase();
        if matches!(before.as_str(), "FROM" | "JOIN" | "INTO" | "UPDATE" | "TABLE" | "EXISTS" | "ON")
            && known.contains(pair[1])
        {
            named.insert(pair[1].to_string());
        }
    }
    named
}

fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn each_table_has_one_owner_and_only_its_code_names_it_in_sql() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = chairside_store::Db::open(&dir.path().join("lib.sqlite3")).expect("open");
    let conn = db.conn().expect("conn");
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .expect("prepare");
    let tables: BTreeSet<String> =
        stmt.query_map([], |r| r.get(0)).expect("query").collect::<Result<_, _>>().expect("rows");

    // One owner per table, and every table of the schema has one.
    let owners = table_owners();
    let mut owner_of: HashMap<&str, &str> = HashMap::new();
    for (krate, owned) in &owners {
        for t in owned.iter() {
            assert!(tables.contains(*t), "{krate} declares {t}, which the schema does not have");
            if let Some(other) = owner_of.insert(t, krate) {
                panic!("{t} is declared by both {other} and {krate}: a table has one owner");
            }
        }
    }
    let orphans: Vec<&String> = tables.iter().filter(|t| !owner_of.contains_key(t.as_str())).collect();
    assert!(orphans.is_empty(), "no crate declares these tables in its TABLES: {orphans:?}");

    // Every crate's code (and the desktop shell's), read literal by literal.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut crates: Vec<String> = std::fs::read_dir(root.join("crates"))
        .expect("crates/")
        .flatten()
        .map(|e| format!("crates/{}", e.file_name().to_string_lossy()))
        .collect();
    crates.push("src-tauri".into());
    crates.sort();
    let mut found: BTreeSet<(String, String)> = BTreeSet::new();
    let mut sql_seen = 0;
    for krate in &crates {
        let owned: BTreeSet<&str> =
            owners.iter().find(|(k, _)| k == krate).map(|(_, t)| t.iter().copied().collect()).unwrap_or_default();
        let mut files = Vec::new();
        rust_files(&root.join(krate).join("src"), &mut files);
        for file in files {
            let src = std::fs::read_to_string(&file).expect("read source");
            for literal in string_literals(&src) {
                let named = tables_named(&literal, &tables);
                sql_seen += usize::from(!named.is_empty());
                for t in named.into_iter().filter(|t| !owned.contains(t.as_str())) {
                    found.insert((krate.clone(), t));
                }
            }
        }
    }
    assert!(sql_seen > 100, "the SQL of the crates is read ({sql_seen} statements)");
    let allowed: BTreeSet<(String, String)> =
        NOT_YET_OWNED.iter().map(|(k, t)| (k.to_string(), t.to_string())).collect();
    let new: Vec<String> = found
        .difference(&allowed)
        .map(|(k, t)| format!("{k} names {t} (owned by {})", owner_of.get(t.as_str()).unwrap_or(&"?")))
        .collect();
    assert!(new.is_empty(), "SQL naming another crate's table: call its owner's API instead\n{}", new.join("\n"));
    let gone: Vec<&(String, String)> = allowed.difference(&found).collect();
    assert!(gone.is_empty(), "these no longer happen: drop them from NOT_YET_OWNED: {gone:?}");
}

/// Each crate's replicated tables, as the composition root hands them to sync.
fn replicated_by() -> Vec<(&'static str, &'static [chairside_store::replicated::Replicated])> {
    vec![
        ("crates/patients", chairside_patients::REPLICATED),
        ("crates/users", chairside_users::REPLICATED),
        ("crates/media", chairside_media::REPLICATED),
        ("crates/series", chairside_series::REPLICATED),
        ("crates/clinical_notes", chairside_clinical_notes::REPLICATED),
        ("crates/treatment_plan", chairside_treatment_plan::REPLICATED),
    ]
}

#[test]
fn each_replicated_table_is_declared_by_its_owner_and_every_clinic_table_replicates() {
    let owners: HashMap<&str, &[&str]> = table_owners().into_iter().collect();
    for (krate, declared) in replicated_by() {
        for e in declared {
            assert!(owners[krate].contains(&e.table), "{krate} declares {} replicated but does not own it", e.table);
        }
    }
    let registry = chairside_app::replicated();
    let registered: BTreeSet<&str> = registry.iter().map(|e| e.table).collect();
    let declared: BTreeSet<&str> = replicated_by().iter().flat_map(|(_, d)| d.iter().map(|e| e.table)).collect();
    assert_eq!(registered, declared, "the app composes every crate's declaration");
    for e in registry.iter() {
        for p in e.parents {
            assert!(
                registry.rank(p) < registry.rank(e.entity_type),
                "{} is applied before its parent {p}",
                e.entity_type
            );
        }
    }

    // A table scoped to a clinic holds records a peer needs: it must replicate (joining a
    // bucket's clinic rewrites exactly the registered tables).
    let dir = tempfile::tempdir().expect("dir");
    let lib = chairside_app::Library::open(chairside_app::LibraryOptions::new(dir.path())).expect("open");
    let scoped: BTreeSet<String> = lib
        .db()
        .read(|c| {
            let mut stmt = c.prepare(
                "SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
                 WHERE m.type = 'table' AND p.name = 'clinic_id'",
            )?;
            let names = stmt.query_map([], |r| r.get(0))?.collect::<Result<BTreeSet<String>, _>>()?;
            Ok::<_, chairside_app::AppError>(names)
        })
        .expect("schema");
    let registered: BTreeSet<String> = registered.iter().map(|s| s.to_string()).collect();
    let missing: Vec<&String> = scoped.difference(&registered).collect();
    assert!(missing.is_empty(), "tables with a clinic_id that no crate declares replicated: {missing:?}");
}

#[test]
fn the_sql_reader_finds_tables_in_every_kind_of_literal() {
    let src = "fn a() { q(\"SELECT x FROM patients WHERE id = ?1\"); let c = '\"'; let l: &'a str = r#\"INSERT INTO \
               documents (a) VALUES (\"x\")\"#; } // UPDATE blobs SET x = 1\n#[cfg(test)]\nmod tests { \"DELETE FROM series\" }";
    let literals = string_literals(src);
    let known: BTreeSet<String> = ["patients", "documents", "blobs", "series"].iter().map(|s| s.to_string()).collect();
    let named: BTreeSet<String> = literals.iter().flat_map(|l| tables_named(l, &known)).collect();
    assert_eq!(named, ["documents", "patients"].iter().map(|s| s.to_string()).collect::<BTreeSet<_>>());
}

/// A domain crate's messages reach every shell, so none names one shell's command: the next
/// step is a `Remedy` that each shell words itself.
#[test]
fn no_domain_message_names_a_cli_command() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let shells = ["cli", "bench", "app"];
    let mut offenders = Vec::new();
    let mut literals = 0;
    for entry in std::fs::read_dir(root.join("crates")).expect("crates/").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if shells.contains(&name.as_str()) {
            continue;
        }
        let mut files = Vec::new();
        rust_files(&entry.path().join("src"), &mut files);
        for file in files {
            let src = std::fs::read_to_string(&file).expect("read source");
            for lit in string_literals(&src) {
                literals += 1;
                // `chairside verify`, or a bare noun and verb as in "(run `sync lifecycle install`)".
                if lit.contains("`chairside ") || lit.contains("run `") {
                    offenders.push(format!("{}: {lit}", file.display()));
                }
            }
        }
    }
    assert!(literals > 1000, "the domain crates' literals were read ({literals})");
    assert!(offenders.is_empty(), "messages naming a CLI command (give a Remedy instead): {offenders:#?}");
}
