//! The README's figures come from here, not from a hand: each measurement is recorded as a
//! JSON line while a bench script runs (`CHAIRSIDE_BENCH_FIGURES` names the file), the script
//! then writes them, with the machine, the commit and the date, to
//! `crates/bench/results/<script>.json`, and the README's tables between
//! `<!-- figures: <script> -->` and `<!-- end figures -->` are rendered from those files
//! (`chairside-bench readme`). A test fails when the README and the results disagree.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where the results live, from the repository's root.
pub const RESULTS_DIR: &str = "crates/bench/results";
const BEGIN: &str = "<!-- figures: ";
const END: &str = "<!-- end figures -->";

/// One measured figure: what it is, its target, what was measured (as the README shows it),
/// the numbers behind it, and each run's value where there were several.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Figure {
    pub id: String,
    pub what: String,
    pub target: String,
    pub measured: String,
    #[serde(default)]
    pub values: BTreeMap<String, f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<f64>,
}

impl Figure {
    pub fn new(id: &str, what: impl Into<String>, target: &str, measured: impl Into<String>) -> Figure {
        Figure {
            id: id.to_string(),
            what: what.into(),
            target: target.to_string(),
            measured: measured.into(),
            values: BTreeMap::new(),
            runs: Vec::new(),
        }
    }

    pub fn value(mut self, name: &str, v: f64) -> Figure {
        self.values.insert(name.to_string(), v);
        self
    }

    pub fn runs(mut self, runs: impl IntoIterator<Item = f64>) -> Figure {
        self.runs = runs.into_iter().collect();
        self
    }

    /// Prints the figure and, when a bench script is recording, appends it to its file.
    pub fn report(self) -> Result<(), String> {
        println!("{}: {}", self.what, self.measured.replace("**", ""));
        let Some(path) = std::env::var_os("CHAIRSIDE_BENCH_FIGURES") else { return Ok(()) };
        let line = serde_json::to_string(&self).map_err(|e| e.to_string())?;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| format!("{}: {e}", Path::new(&path).display()))?;
        writeln!(f, "{line}").map_err(|e| e.to_string())
    }
}

/// The machine a run was made on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gb: f64,
    pub os: String,
}

impl Machine {
    /// This machine, read from /proc on Linux ("unknown" where a fact is not found).
    pub fn this() -> Machine {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim()))
            .unwrap_or("unknown")
            .to_string();
        let memory_kb: f64 = read("/proc/meminfo")
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        let kernel = read("/proc/sys/kernel/osrelease");
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            memory_gb: (memory_kb / 1024.0 / 1024.0 * 10.0).round() / 10.0,
            os: format!("{} {}", std::env::consts::OS, kernel.trim()).trim().to_string(),
        }
    }
}

/// A bench script's run: what `crates/bench/results/<script>.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Results {
    pub script: String,
    pub commit: String,
    pub date: String,
    pub machine: Machine,
    pub figures: Vec<Figure>,
}

/// The recorded figures of `script`'s run, written to `root/crates/bench/results/<script>.json`.
/// A figure recorded twice (a re-run step) keeps its last value, in its first place.
pub fn write_results(root: &Path, script: &str, recorded: &Path) -> Result<PathBuf, String> {
    let text = std::fs::read_to_string(recorded).map_err(|e| format!("{}: {e}", recorded.display()))?;
    let mut figures: Vec<Figure> = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Figure = serde_json::from_str(line).map_err(|e| format!("{}: {e}: {line}", recorded.display()))?;
        match figures.iter_mut().find(|g| g.id == f.id) {
            Some(g) => *g = f,
            None => figures.push(f),
        }
    }
    if figures.is_empty() {
        return Err(format!("{script} recorded no figures"));
    }
    let results =
        Results { script: script.to_string(), commit: commit(root), date: today(), machine: Machine::this(), figures };
    let dir = root.join(RESULTS_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(format!("{script}.json"));
    let json = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?;
    std::fs::write(&path, json + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// The commit measured, `-dirty` when the tree had changes: as the script saw it when it
/// started (`CHAIRSIDE_BENCH_COMMIT`), else now.
fn commit(root: &Path) -> String {
    if let Some(c) = std::env::var("CHAIRSIDE_BENCH_COMMIT").ok().filter(|c| !c.is_empty()) {
        return c;
    }
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let head = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    if dirty { format!("{head}-dirty") } else { head }
}

fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

/// The README table for one script's results.
pub fn render(r: &Results) -> String {
    let mut out = String::from("| figure | target | measured |\n| --- | --- | --- |\n");
    for f in &r.figures {
        out.push_str(&format!("| {} | {} | {} |\n", cell(&f.what), cell(&f.target), cell(&f.measured)));
    }
    out.push_str(&format!(
        "\n`scripts/{}` at commit `{}`, {}, on {} ({} cores, {} GB); every run's numbers are in `{RESULTS_DIR}/{}.json`.\n",
        r.script, r.commit, r.date, r.machine.cpu, r.machine.cores, r.machine.memory_gb, r.script
    ));
    out
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The README with each marked section rendered from `results_dir`: a section names its
/// script (`<!-- figures: bench.sh -->`) and ends at `<!-- end figures -->`.
pub fn rendered_readme(readme: &str, results_dir: &Path) -> Result<String, String> {
    let mut out = String::with_capacity(readme.len());
    let mut rest = readme;
    while let Some(at) = rest.find(BEGIN) {
        let line_end = rest[at..].find('\n').map(|n| at + n + 1).ok_or("a figures marker ends the README")?;
        let marker = &rest[at..line_end];
        let script = marker[BEGIN.len()..].trim_end().trim_end_matches("-->").trim();
        let end = rest[line_end..].find(END).map(|n| line_end + n).ok_or(format!("{marker:?} has no {END}"))?;
        let path = results_dir.join(format!("{script}.json"));
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let results: Results = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        out.push_str(&rest[..line_end]);
        out.push('\n');
        out.push_str(&render(&results));
        out.push('\n');
        rest = &rest[end..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_shows_the_committed_results() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
        let fresh = rendered_readme(&readme, &root.join(RESULTS_DIR)).expect("render");
        assert!(readme.contains(BEGIN), "the README has figure sections");
        assert!(
            fresh == readme,
            "the README's figures differ from {RESULTS_DIR}: run `cargo run -p chairside-bench -- readme` and commit"
        );
    }

    #[test]
    fn a_section_is_rendered_from_its_results_and_the_rest_is_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let results = Results {
            script: "bench-x.sh".into(),
            commit: "abc".into(),
            date: "2026-12-02".into(),
            machine: Machine { cpu: "cpu".into(), cores: 2, memory_gb: 8.0, os: "linux".into() },
            figures: vec![Figure::new("a", "speed | of a", "≥ 1", "**2**").value("x", 2.0).runs([1.0, 3.0])],
        };
        std::fs::write(dir.path().join("bench-x.sh.json"), serde_json::to_string(&results).expect("json"))
            .expect("write");
        let readme = "intro\n<!-- figures: bench-x.sh -->\nstale table\n<!-- end figures -->\nafter\n";
        let out = rendered_readme(readme, dir.path()).expect("render");
        assert!(out.starts_with("intro\n<!-- figures: bench-x.sh -->\n\n| figure | target | measured |"), "{out}");
        assert!(out.contains("| speed \\| of a | ≥ 1 | **2** |"), "{out}");
        assert!(out.ends_with("<!-- end figures -->\nafter\n"), "{out}");
        assert!(!out.contains("stale"));
        assert_eq!(rendered_readme(&out, dir.path()).expect("again"), out, "rendering is stable");
    }

    #[test]
    fn a_run_keeps_each_figure_once_with_its_last_value() {
        let dir = tempfile::tempdir().expect("tempdir");
        let recorded = dir.path().join("figures.jsonl");
        let lines: Vec<String> =
            [Figure::new("a", "A", "t", "1"), Figure::new("b", "B", "t", "2"), Figure::new("a", "A", "t", "3")]
                .iter()
                .map(|f| serde_json::to_string(f).expect("json"))
                .collect();
        std::fs::write(&recorded, lines.join("\n")).expect("write");
        let path = write_results(dir.path(), "s.sh", &recorded).expect("results");
        let r: Results = serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("parse");
        let got: Vec<(&str, &str)> = r.figures.iter().map(|f| (f.id.as_str(), f.measured.as_str())).collect();
        assert_eq!(got, [("a", "3"), ("b", "2")]);
        assert_eq!(r.date.len(), 10);
    }
}
