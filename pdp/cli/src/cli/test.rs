//! `warden test DIR [--filter S] [--allow-empty] [--junit FILE] [--coverage]`: run the
//! policy set's tests. Exit status: 0 every test passed; 1 a test failed, or no
//! test ran (none in the set, or none matching `--filter`) without
//! `--allow-empty`; 2 the tests could not run (the set does not compile, or
//! the directory holds several sets).

use std::fmt::Write as _;
use std::path::PathBuf;

use warden_cli::testing;

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
}

/// Some test failed, or none ran.
pub const FAILED: u8 = 1;
/// The tests could not run.
pub const CANNOT_RUN: u8 = 2;

/// The exit status (see the module's documentation).
pub fn run(args: &Args) -> u8 {
    if files::several_sets(&args.dir, "test one of them") {
        return CANNOT_RUN;
    }
    let Some(warden_project::Compiled { set, graph, .. }) = files::compile_set(&args.dir) else { return CANNOT_RUN };
    let report = testing::run(&set, &graph, args.filter.as_deref());
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
    if args.coverage {
        let routes = testing::uncovered(&graph, &report);
        let rules = testing::unused_rules(&graph, &report);
        outln!(
            "coverage: {} of {} routes and actions exercised",
            graph.endpoints.len() - routes.len(),
            graph.endpoints.len()
        );
        for r in &routes {
            outln!("  never exercised: {r}");
        }
        for r in &rules {
            outln!("  rule never decided: {r}");
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
    if failed == 0 { 0 } else { FAILED }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
