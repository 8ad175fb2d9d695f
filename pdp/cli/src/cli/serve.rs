//! `warden serve [--config FILE] [--policies DIR] [--http ADDR] [--grpc ADDR]`: the decision service.

use std::net::SocketAddr;
use std::path::PathBuf;

use warden_server::config::Config;

use super::files;
use super::out::errln;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The TOML config file (every setting has a default).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The policy set directory (overrides the config).
    #[arg(long)]
    pub policies: Option<PathBuf>,
    /// The HTTP listen address (overrides the config; default 127.0.0.1:8181).
    #[arg(long)]
    pub http: Option<SocketAddr>,
    /// The gRPC listen address (overrides the config; default 127.0.0.1:9191).
    #[arg(long)]
    pub grpc: Option<SocketAddr>,
}

pub fn run(args: &Args) -> bool {
    let mut config = match &args.config {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => match Config::parse(&text, path) {
                Ok(c) => c,
                Err(e) => {
                    errln!("error: {e}");
                    return false;
                }
            },
            Err(e) => {
                errln!("error: cannot read `{}`: {e}", path.display());
                return false;
            }
        },
        None => Config::default(),
    };
    if let Some(p) = &args.policies {
        config.policies.clone_from(p);
    }
    if let Some(a) = args.http {
        config.http.addr = a;
    }
    if let Some(a) = args.grpc {
        config.grpc.addr = a;
    }
    // Refused before anything is bound: compiled as one the sets clash or mix,
    // and a service that is not ready until they compile would wait forever.
    if files::several_sets(&config.policies, "serve one of them (`--policies DIR` or `policies` in the config)") {
        return false;
    }
    match warden_server::run(config) {
        Ok(()) => true,
        Err(e) => {
            errln!("error: {e}");
            false
        }
    }
}
