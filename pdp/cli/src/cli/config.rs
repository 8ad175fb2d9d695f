//! `warden config schema|check`: the JSON Schema of `warden serve`'s config
//! file, and a config file checked as `warden serve` would read it (with the
//! `WARDEN__…` environment over it), without starting anything.

use std::path::PathBuf;

use super::out::{errln, outln};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Print the JSON Schema (draft 2020-12) of the config file.
    Schema,
    /// Check a config file (and the `WARDEN__…` environment) as `warden serve` reads it.
    Check {
        /// The config file.
        file: PathBuf,
    },
}

pub fn run(args: &Args) -> bool {
    match &args.command {
        ConfigCommand::Schema => {
            outln!("{}", serde_json::to_string_pretty(&warden_server::config::schema()).unwrap_or_default());
            true
        }
        ConfigCommand::Check { file } => {
            let text = match std::fs::read_to_string(file) {
                Ok(t) => t,
                Err(e) => {
                    errln!("error: cannot read `{}`: {e}", file.display());
                    return false;
                }
            };
            let env: Vec<(String, String)> = std::env::vars().collect();
            match warden_server::config::Config::parse_with_env(&text, file, &env) {
                Ok(_) => {
                    outln!("{}: ok", file.display());
                    true
                }
                Err(e) => {
                    errln!("error: {e}");
                    false
                }
            }
        }
    }
}
