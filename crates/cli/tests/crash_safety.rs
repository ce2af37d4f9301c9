//! A 200-file import killed (SIGKILL) at random points: no document is ever left without its
//! original, and every import the CLI acknowledged is there after a restart. The kill points
//! come from a seed (printed; `CHAIRSIDE_CRASH_SEED=<seed>` replays the same schedule): each
//! round kills the import after its k-th reported file plus d ms, k and d drawn from the seed.

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::{Lcg, Lib, jpeg};

fn assert_consistent(lib: &Lib, acknowledged: &HashMap<String, String>) {
    let conn = chairside_store::rusqlite::Connection::open(lib.path().join("library.sqlite3")).expect("open db");
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("integrity_check");
    assert_eq!(check, "ok");
    let mut stmt = conn.prepare("SELECT id, sha256 FROM documents").expect("prepare");
    let docs: HashMap<String, String> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).expect("query").collect::<Result<_, _>>().expect("rows");
    for (id, sha) in &docs {
        let blob = lib.path().join("blobs").join(&sha[0..2]).join(&sha[2..4]).join(sha);
        assert_eq!(support::sha256_file(&blob), *sha, "document {id} has its original, intact");
    }
    for (path, id) in acknowledged {
        assert!(docs.contains_key(id), "{path} was acknowledged as {id} but is not in the library");
    }
    let history: i64 = conn
        .query_row("SELECT COUNT(*) FROM document_history WHERE action = 'import'", [], |r| r.get(0))
        .expect("history");
    assert_eq!(history as usize, docs.len(), "every document has exactly its import history row");
    assert_eq!(lib.ok(&["audit", "verify"])["ok"], true, "the audit chain survives a kill");
}

#[test]
fn killing_an_import_at_random_points_loses_nothing_acknowledged() {
    let lib = Lib::new();
    let p = lib.patient("Ada");
    let src = tempfile::tempdir().expect("src");
    for i in 0..200 {
        std::fs::write(src.path().join(format!("{i:03}.jpg")), jpeg(i, 320, 240)).expect("write");
    }
    let mut rng = Lcg::from_env("crash_safety");
    let seed = rng.seed;
    let mut acknowledged = HashMap::new();
    for round in 0..6 {
        let (after_files, then_ms) = (rng.next(40), rng.next(40));
        let mut child = lib
            .command()
            .args(["import", "--patient", &p])
            .arg(src.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines().map_while(Result::ok);
        // "[i/n] <status> <path> …" is printed as each file is done: kill after the k-th.
        let mut seen = Vec::new();
        let started = Instant::now();
        while seen.iter().filter(|l: &&String| l.starts_with('[')).count() < after_files as usize {
            let Some(line) = lines.next() else { break };
            seen.push(line);
            assert!(started.elapsed() < Duration::from_secs(120), "seed {seed}, round {round}: the import hangs");
        }
        std::thread::sleep(Duration::from_millis(then_ms));
        let _ = child.kill();
        let _ = child.wait();
        seen.extend(lines);
        // "[i/n] imported <path> <document id>" is printed only after the commit.
        for line in seen {
            let parts: Vec<&str> = line.split_whitespace().collect();
            if parts.len() == 4 && parts[1] == "imported" {
                acknowledged.insert(parts[2].to_string(), parts[3].to_string());
            }
        }
        assert_consistent(&lib, &acknowledged);
    }
    assert!(!acknowledged.is_empty(), "seed {seed}: some imports should have finished before a kill");

    // Restart: the rest imports, what was there is a duplicate, nothing is stored twice.
    let run = lib.import(&p, &[src.path()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for r in run.json["results"].as_array().expect("results") {
        if let Some(id) = acknowledged.get(r["path"].as_str().expect("path")) {
            assert_eq!(r["status"], "duplicate");
            assert_eq!(r["document_id"], id.as_str());
        }
    }
    assert_eq!(lib.ok(&["list", "--patient", &p]).as_array().map(Vec::len), Some(200));
    assert_consistent(&lib, &acknowledged);
    // Thumbnails left pending by a kill are all made by now.
    let conn = chairside_store::rusqlite::Connection::open(lib.path().join("library.sqlite3")).expect("open db");
    let pending: i64 =
        conn.query_row("SELECT COUNT(*) FROM thumbnails WHERE status != 'ready'", [], |r| r.get(0)).expect("q");
    assert_eq!(pending, 0, "thumbnails interrupted by a kill are made at the next start");
    // Only temp files of interrupted writes can be stray; verify reports them, never deletes.
    let report = lib.json(&["verify"]);
    for o in report.json["orphans"].as_array().expect("orphans") {
        assert!(o["path"].as_str().expect("path").contains("/.tmp-"), "unexpected stray file {o}");
    }
    assert!(
        report.json["corrupt"].as_array().expect("c").is_empty()
            && report.json["missing"].as_array().expect("m").is_empty()
    );
}
