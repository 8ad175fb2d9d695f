//! `warden test DIR [--filter S] [--allow-empty] [--junit FILE] [--coverage]
//! [--coverage-json FILE] [--lcov FILE] [--coverage-min PCT] [--watch]`: run the policy
//! set's tests (with `--watch`, again after every change, until interrupted). Exit status: 0 every test passed; 1 a test failed, or no
//! test ran (none in the set, or none matching `--filter`) without
//! `--allow-empty`; 2 the tests could not run (the set does not compile, or
//! the directory holds several sets).

use std::fmt::Write as _;
use std::path::PathBuf;

use warden_cli::keys::AwsLcKeys;
use warden_engine::testing::{self, Covered, Covers};

use super::files;
use super::out::{errln, outln};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The policy set directory.
    pub dir: PathBuf,
    /// Run only tests whose name contains this.
    #[arg(long)]
    pub filter: Option<String>,
    /// Succeed when no test runs (by default a set without tests, or a
    /// `--filter` that matches none, fails: a CI job that tests nothing).
    #[arg(long)]
    pub allow_empty: bool,
    /// Also write a JUnit XML report here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// List the routes, actions and rules no test exercised.
    #[arg(long)]
    pub coverage: bool,
    /// Write the coverage of routes, actions and rules as JSON here.
    #[arg(long, value_name = "FILE")]
    pub coverage_json: Option<PathBuf>,
    /// Write the coverage as LCOV tracefile text here (a line per route,
    /// action and rule; hit once when a test covered it).
    #[arg(long, value_name = "FILE")]
    pub lcov: Option<PathBuf>,
    /// Fail (exit 1) when fewer than this percentage of the routes and
    /// actions, or of the rules, were covered.
    #[arg(long, value_name = "PCT", value_parser = percent)]
    pub coverage_min: Option<f64>,
    /// Run the tests again after every change under DIR, until interrupted
    /// (no report files: writing them would be a change).
    #[arg(long, conflicts_with_all = ["junit", "coverage_json", "lcov"])]
    pub watch: bool,
}

/// How long the directory must be quiet before `--watch` runs the tests again.
const WATCH_DEBOUNCE: std::time::Duration = std::time::Duration::from_millis(200);

/// A percentage from 0 to 100.
fn percent(text: &str) -> Result<f64, String> {
    match text.trim_end_matches('%').parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!("`{text}` is not a percentage from 0 to 100")),
    }
}

/// Some test failed, or none ran.
pub const FAILED: u8 = 1;
/// The tests could not run.
pub const CANNOT_RUN: u8 = 2;

/// The exit status (see the module's documentation); with `--watch`, that of
/// the first run when the directory cannot be watched, else it runs until
/// the process is interrupted.
pub fn run(args: &Args) -> u8 {
    let first = run_once(args);
    // A directory of several sets is refused (already said), not watched.
    if !args.watch || warden_project::several_sets(&args.dir).is_some() {
        return first;
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let options = warden_project::WatchOptions { watch: true, debounce: WATCH_DEBOUNCE, ignore: None };
    let _reloader = match warden_project::Reloader::start(&args.dir, options, move || {
        let _ = tx.send(());
    }) {
        Ok(r) => r,
        Err(err) => {
            errln!("error: {err}");
            return CANNOT_RUN;
        }
    };
    outln!("watching `{}` for changes (Ctrl-C stops)", args.dir.display());
    while rx.recv().is_ok() {
        outln!("\n--- `{}` changed: running the tests again", args.dir.display());
        run_once(args);
    }
    first
}

/// One run of the tests.
fn run_once(args: &Args) -> u8 {
    if files::several_sets(&args.dir, "test one of them") {
        return CANNOT_RUN;
    }
    let Some(warden_project::Compiled { set, graph, .. }) = files::compile_set(&args.dir) else { return CANNOT_RUN };
    let report = testing::run(&set, &graph, args.filter.as_deref(), &AwsLcKeys);
    if report.results.is_empty() && !args.allow_empty {
        match &args.filter {
            Some(filter) => errln!("error: no test name contains `{filter}` (`--allow-empty` accepts that)"),
            None => errln!("error: `{}` has no tests (`--allow-empty` accepts that)", args.dir.display()),
        }
        return FAILED;
    }
    let mut failed = 0;
    for r in &report.results {
        if r.failures.is_empty() {
            outln!("ok    {}", r.name);
        } else {
            failed += 1;
            outln!("FAIL  {} ({})", r.name, r.file);
            for f in &r.failures {
                outln!("      {f}");
            }
        }
    }
    let passed = report.results.len() - failed;
    outln!("{passed} passed, {failed} failed");
    let items = testing::coverage(&graph, &report);
    let (endpoints, rules) = shares(&items);
    if args.coverage {
        outln!(
            "coverage: {} of {} routes and actions exercised, {} of {} rules decided",
            endpoints.0,
            endpoints.1,
            rules.0,
            rules.1
        );
        for i in items.iter().filter(|i| !i.covered) {
            match i.kind {
                Covers::Endpoint => outln!("  never exercised: {} ({}:{})", i.id, i.file, i.line),
                Covers::Rule => outln!("  rule never decided: {} ({}:{})", i.id, i.file, i.line),
            }
        }
    }
    let mut status = if failed == 0 { 0 } else { FAILED };
    // Each report is written only when asked for.
    let written: [(&Option<PathBuf>, &dyn Fn() -> String); 2] =
        [(&args.coverage_json, &|| coverage_json(&items, endpoints, rules)), (&args.lcov, &|| lcov(&items))];
    for (path, text) in written {
        if let Some(path) = path
            && let Err(err) = std::fs::write(path, text())
        {
            errln!("error: cannot write `{}`: {err}", path.display());
            status = FAILED;
        }
    }
    if let Some(min) = args.coverage_min {
        let (e, r) = (pct(endpoints), pct(rules));
        if e < min || r < min {
            errln!("error: coverage is below --coverage-min {min}%: {e:.1}% of routes and actions, {r:.1}% of rules");
            status = FAILED;
        }
    }
    if let Some(path) = &args.junit {
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let total: std::time::Duration = report.results.iter().map(|r| r.duration).sum();
        let _ = writeln!(
            xml,
            "<testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" time=\"{:.6}\">",
            escape(&args.dir.display().to_string()),
            report.results.len(),
            total.as_secs_f64()
        );
        for r in &report.results {
            let _ = write!(
                xml,
                "  <testcase name=\"{}\" classname=\"{}\" time=\"{:.6}\"",
                escape(&r.name),
                escape(&r.file),
                r.duration.as_secs_f64()
            );
            if r.failures.is_empty() {
                xml.push_str("/>\n");
            } else {
                let _ = writeln!(
                    xml,
                    ">\n    <failure message=\"{}\">{}</failure>\n  </testcase>",
                    escape(&r.failures[0]),
                    escape(&r.failures.join("\n"))
                );
            }
        }
        xml.push_str("</testsuite>\n");
        if let Err(err) = std::fs::write(path, xml) {
            errln!("error: cannot write `{}`: {err}", path.display());
            return FAILED;
        }
    }
    status
}

/// (covered, total) of the endpoints and of the rules.
fn shares(items: &[Covered]) -> ((usize, usize), (usize, usize)) {
    let share = |kind| {
        let of: Vec<&Covered> = items.iter().filter(|i| i.kind == kind).collect();
        (of.iter().filter(|i| i.covered).count(), of.len())
    };
    (share(Covers::Endpoint), share(Covers::Rule))
}

/// A share as a percentage; nothing to cover is all of it covered.
fn pct((covered, total): (usize, usize)) -> f64 {
    if total == 0 { 100.0 } else { covered as f64 * 100.0 / total as f64 }
}

/// `--coverage-json`: the totals and every item with where it is written.
fn coverage_json(items: &[Covered], endpoints: (usize, usize), rules: (usize, usize)) -> String {
    let list = |kind| -> Vec<serde_json::Value> {
        items
            .iter()
            .filter(|i| i.kind == kind)
            .map(|i| serde_json::json!({"id": i.id, "file": i.file, "line": i.line, "covered": i.covered}))
            .collect()
    };
    let part = |(covered, total): (usize, usize), kind| serde_json::json!({"covered": covered, "total": total, "percent": pct((covered, total)), "items": list(kind)});
    let doc = serde_json::json!({"endpoints": part(endpoints, Covers::Endpoint), "rules": part(rules, Covers::Rule)});
    format!("{doc:#}\n")
}

/// `--lcov`: one record per file, a `DA` line per route, action and rule
/// (hit 1 when covered), so LCOV tools can show the policy files covered.
fn lcov(items: &[Covered]) -> String {
    let mut files: Vec<&str> = items.iter().map(|i| i.file.as_str()).collect();
    files.sort_unstable();
    files.dedup();
    let mut out = String::new();
    for file in files {
        let mut lines: Vec<(u32, bool)> =
            items.iter().filter(|i| i.file == file).map(|i| (i.line, i.covered)).collect();
        // One line holding several items is covered when all of them are.
        lines.sort_unstable();
        let mut merged: Vec<(u32, bool)> = Vec::new();
        for (line, covered) in lines {
            match merged.last_mut() {
                Some(last) if last.0 == line => last.1 &= covered,
                _ => merged.push((line, covered)),
            }
        }
        let _ = writeln!(out, "TN:warden\nSF:{file}");
        for (line, covered) in &merged {
            let _ = writeln!(out, "DA:{line},{}", u8::from(*covered));
        }
        let hit = merged.iter().filter(|(_, c)| *c).count();
        let _ = writeln!(out, "LF:{}\nLH:{hit}\nend_of_record", merged.len());
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
