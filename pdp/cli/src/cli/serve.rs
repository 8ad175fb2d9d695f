//! `warden serve [--config FILE] [--policies DIR | --bundle oci://… --bundle-keys JWKS] [--http ADDR]
//! [--grpc ADDR]`: the decision service.

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
    /// Serve the signed bundle at `oci://HOST[:PORT]/REPO:TAG`, polled (overrides `[bundle] url`;
    /// the keys come from `[bundle] keys` or `--bundle-keys`).
    #[arg(long)]
    pub bundle: Option<String>,
    /// The JWKS whose keys may sign the bundle (overrides `[bundle] keys`).
    #[arg(long)]
    pub bundle_keys: Option<PathBuf>,
}

pub fn run(args: &Args) -> bool {
    // `WARDEN__SECTION__KEY` variables set values over the file's (secrets
    // from files with `…__FILE`), with or without a file.
    let env: Vec<(String, String)> = std::env::vars().collect();
    let (text, path) = match &args.config {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => (text, path.clone()),
            Err(e) => {
                errln!("error: cannot read `{}`: {e}", path.display());
                return false;
            }
        },
        None => (String::new(), PathBuf::from("(no config file)")),
    };
    let mut config = match Config::parse_with_env(&text, &path, &env) {
        Ok(c) => c,
        Err(e) => {
            errln!("error: {e}");
            return false;
        }
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
    if args.bundle.is_some() || args.bundle_keys.is_some() {
        let b = config
            .bundle
            .get_or_insert_with(|| warden_server::config::BundleConfig::new(String::new(), PathBuf::new()));
        if let Some(url) = &args.bundle {
            b.url.clone_from(url);
        }
        if let Some(keys) = &args.bundle_keys {
            b.keys.clone_from(keys);
        }
        if b.url.is_empty() || b.keys.as_os_str().is_empty() {
            errln!("error: a bundle needs both its URL (`--bundle`) and the keys that sign it (`--bundle-keys`)");
            return false;
        }
        if let Err(e) = warden_server::bundle::registry::check_url(&b.url, b.plain_http) {
            errln!("error: `--bundle`: {e}");
            return false;
        }
    }
    // Refused before anything is bound: compiled as one the sets clash or mix,
    // and a service that is not ready until they compile would wait forever.
    if config.bundle.is_none()
        && files::several_sets(&config.policies, "serve one of them (`--policies DIR` or `policies` in the config)")
    {
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
