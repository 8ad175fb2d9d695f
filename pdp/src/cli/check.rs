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
    let mut sets = Vec::new();
    let mut unloadable = false;
    for dir in files::policy_sets(&args.dir) {
        // A set that cannot be read at all is reported, and the others still are.
        let Some(loaded) = files::load_set(&dir) else {
            unloadable = true;
            continue;
        };
        let diags = match &loaded {
            Ok(set) => warden_compiler::diagnostics(set, &files::FsLoader::for_set(&dir)),
            Err(_) => Vec::new(),
        };
        sets.push((dir, loaded, diags));
    }
    report::print_sets(sets, args.format) && !unloadable
}
