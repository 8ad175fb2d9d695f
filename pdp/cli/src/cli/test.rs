//! `warden test DIR [--filter S] [--junit FILE] [--coverage]`: run the policy set's tests.

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
    /// Also write a JUnit XML report here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// List the routes, actions and rules no test exercised.
    #[arg(long)]
    pub coverage: bool,
}

pub fn run(args: &Args) -> bool {
    if files::several_sets(&args.dir, "test one of them") {
        return false;
    }
    let Some(warden_project::Compiled { set, graph, .. }) = files::compile_set(&args.dir) else { return false };
    let report = testing::run(&set, &graph, args.filter.as_deref());
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
        let _ = writeln!(
            xml,
            "<testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\">",
            escape(&args.dir.display().to_string()),
            report.results.len()
        );
        for r in &report.results {
            let _ = write!(xml, "  <testcase name=\"{}\" classname=\"{}\"", escape(&r.name), escape(&r.file));
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
            return false;
        }
    }
    failed == 0
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
