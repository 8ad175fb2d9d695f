//! `warden check DIR`: parse and check every policy file; exit 1 when any has errors.

use std::path::PathBuf;

use super::OutputFormat;
use super::files;
use super::report;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The policy set: a directory of `*.warden` files (or one file).
    pub dir: PathBuf,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

pub fn run(args: &Args) -> bool {
    let (sets, unloadable) = files::load_sets(&args.dir, |set, loader| warden_compiler::diagnostics(set, loader));
    report::print_sets(sets, args.format) && !unloadable
}
