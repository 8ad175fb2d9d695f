//! `warden test DIR [--filter S] [--junit FILE] [--coverage]`: run the policy set's tests.

use std::fmt::Write as _;
use std::path::PathBuf;

use warden_pdp::testing;

use super::files;

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
    let Some((set, _, graph, _)) = files::compile_set(&args.dir) else { return false };
    let report = testing::run(&set, &graph, args.filter.as_deref());
    let mut failed = 0;
    for r in &report.results {
        if r.failures.is_empty() {
            println!("ok    {}", r.name);
        } else {
            failed += 1;
            println!("FAIL  {} ({})", r.name, r.file);
            for f in &r.failures {
                println!("      {f}");
            }
        }
    }
    let passed = report.results.len() - failed;
    println!("{passed} passed, {failed} failed");
    if args.coverage {
        let routes = testing::uncovered(&graph, &report);
        let rules = testing::unused_rules(&graph, &report);
        println!(
            "coverage: {} of {} routes and actions exercised",
            graph.endpoints.len() - routes.len(),
            graph.endpoints.len()
        );
        for r in &routes {
            println!("  never exercised: {r}");
        }
        for r in &rules {
            println!("  rule never decided: {r}");
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
            eprintln!("error: cannot write `{}`: {err}", path.display());
            return false;
        }
    }
    failed == 0
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
