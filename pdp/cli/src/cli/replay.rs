//! `warden replay --log FILE DIR [--fail-on allow-to-deny|deny-to-allow|any]`:
//! the logged decisions (with captured inputs) judged again against the set
//! in DIR; every decision that would change, grouped by endpoint and
//! direction, with counts and examples. Exit 0, or 2 when changes of the
//! `--fail-on` kind are found; 1 when the log has no captured input or the
//! set does not compile.

use std::path::PathBuf;

use clap::ValueEnum;
use warden_cli::replay::{self as warden_cli_replay, Direction, Summary};

use super::files;
use super::out::{errln, outln};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// A decision that allowed would deny.
    AllowToDeny,
    /// A decision that denied would allow.
    DenyToAllow,
    /// Any change, a reason among denials included.
    Any,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ReplayFormat {
    /// A summary, then each group with its examples.
    #[default]
    Human,
    /// One JSON document.
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The decision log (JSON lines, written with `[decision_log] capture`).
    #[arg(long)]
    pub log: PathBuf,
    /// The policy set to judge the inputs with.
    pub dir: PathBuf,
    /// Exit 2 when decisions change this way.
    #[arg(long, value_enum)]
    pub fail_on: Option<FailOn>,
    /// How to print the result.
    #[arg(long, value_enum, default_value_t)]
    pub format: ReplayFormat,
}

pub fn run(args: &Args) -> u8 {
    if files::several_sets(&args.dir, "replay against one of them") {
        return 1;
    }
    let Some(compiled) = files::compile_set(&args.dir) else { return 1 };
    let file = match std::fs::File::open(&args.log) {
        Ok(f) => f,
        Err(e) => {
            errln!("error: cannot read `{}`: {e}", args.log.display());
            return 1;
        }
    };
    let summary = match warden_cli_replay::replay(std::io::BufReader::new(file), &compiled.graph) {
        Ok(s) => s,
        Err(why) => {
            errln!("error: {why}");
            return 1;
        }
    };
    if summary.captured == 0 {
        errln!(
            "error: `{}` has {} lines and no captured input: nothing can be replayed (set `capture = \"request\"` in `[decision_log]`)",
            args.log.display(),
            summary.lines
        );
        return 1;
    }
    match args.format {
        ReplayFormat::Human => print(&summary),
        ReplayFormat::Json => match serde_json::to_string_pretty(&summary) {
            Ok(text) => outln!("{text}"),
            Err(e) => {
                errln!("error: cannot write JSON: {e}");
                return 1;
            }
        },
    }
    let failing = match args.fail_on {
        None => 0,
        Some(FailOn::AllowToDeny) => summary.count(Direction::AllowToDeny),
        Some(FailOn::DenyToAllow) => summary.count(Direction::DenyToAllow),
        Some(FailOn::Any) => summary.groups.iter().map(|g| g.count).sum(),
    };
    if failing > 0 { 2 } else { 0 }
}

fn print(s: &Summary) {
    outln!(
        "{} lines, {} with a captured input, {} replayed: {} allow → deny, {} deny → allow, {} deny → deny (another reason)",
        s.lines,
        s.captured,
        s.replayed,
        s.count(Direction::AllowToDeny),
        s.count(Direction::DenyToAllow),
        s.count(Direction::DenyToDeny)
    );
    for (why, n) in &s.skipped {
        outln!("  not replayed: {n} × {why}");
    }
    for g in &s.groups {
        let direction = match g.direction {
            Direction::AllowToDeny => "allow → deny",
            Direction::DenyToAllow => "deny → allow",
            Direction::DenyToDeny => "deny → deny",
        };
        outln!("\n{}: {direction} × {}", g.endpoint, g.count);
        for e in &g.examples {
            outln!(
                "  {} {}: {} {} → {} {}",
                e.decision_id,
                e.what,
                e.before.status,
                e.before.reason,
                e.after.status,
                e.after.reason
            );
        }
    }
}
