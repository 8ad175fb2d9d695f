//! `warden check PATH…`: parse and check policy sets (a directory's sets, a file's
//! set); exit 1 when any has errors.

use std::path::PathBuf;

use super::OutputFormat;
use super::files;
use super::report;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Policy sets: a set's directory, a directory of sets, or a `.warden`
    /// file (its whole set is checked; each set once however often named).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

pub fn run(args: &Args) -> bool {
    let (sets, unloadable) = files::load_sets(&args.paths, |_, set, loader| warden_compiler::diagnostics(set, loader));
    report::print_sets(sets, args.format) && !unloadable
}
