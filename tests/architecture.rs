//! The layering rules, read from `cargo metadata`: media never depends on the modules that
//! attach documents to their records, and no domain crate depends on Tauri.

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
