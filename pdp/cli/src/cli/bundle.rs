//! `warden bundle build|verify|inspect|push`: policy bundles (one archive of
//! a set's sources and files, its compiled graph, a manifest and a detached
//! JWS over it) built for `warden serve --bundle`, checked, shown, and pushed
//! to an OCI registry.

use std::path::{Path, PathBuf};
use std::time::Duration;

use warden_server::bundle::{self, Bundle};

use super::out::{errln, outln};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: BundleCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum BundleCommand {
    /// Build the bundle of a policy set (it must compile); prints its revision.
    Build {
        /// The policy set directory.
        dir: PathBuf,
        /// Where to write the bundle.
        #[arg(short, long)]
        output: PathBuf,
        /// Sign it with this private key (`warden keys generate`).
        #[arg(long)]
        sign: Option<PathBuf>,
    },
    /// Check a bundle's signature with a key set and every file against its manifest.
    Verify {
        /// The bundle.
        file: PathBuf,
        /// The JWKS of the keys that may sign it (`warden keys public`).
        #[arg(long)]
        key: PathBuf,
    },
    /// Show a bundle's manifest (its files checked, its signature not).
    Inspect {
        /// The bundle.
        file: PathBuf,
    },
    /// Push a bundle to an OCI registry: `oci://HOST[:PORT]/REPO:TAG`. Credentials, when the
    /// registry wants them: `WARDEN_REGISTRY_USERNAME` and `WARDEN_REGISTRY_PASSWORD`.
    Push {
        /// The bundle.
        file: PathBuf,
        /// Where: `oci://HOST[:PORT]/REPO:TAG`.
        url: String,
        /// Plain HTTP to the registry (one on loopback), not HTTPS.
        #[arg(long)]
        plain_http: bool,
    },
}

pub fn run(args: &Args) -> bool {
    match &args.command {
        BundleCommand::Build { dir, output, sign } => build(dir, output, sign.as_ref()),
        BundleCommand::Verify { file, key } => {
            let keys = match std::fs::read(key).map(|b| serde_json::from_slice::<serde_json::Value>(&b)) {
                Ok(Ok(v)) if v.get("keys").is_some_and(serde_json::Value::is_array) => v,
                Ok(_) => {
                    errln!("error: `{}` is not a JWKS (an object with `keys`)", key.display());
                    return false;
                }
                Err(e) => {
                    errln!("error: cannot read `{}`: {e}", key.display());
                    return false;
                }
            };
            let Some(bytes) = read(file) else { return false };
            match Bundle::open(&bytes, Some(&keys)) {
                Ok(b) => {
                    outln!(
                        "{}: verified: revision {}, signed by `{}`, {} files",
                        file.display(),
                        b.manifest.revision,
                        b.signed_by.unwrap_or_default(),
                        b.manifest.files.len()
                    );
                    true
                }
                Err(e) => {
                    errln!("{}: {e}", file.display());
                    false
                }
            }
        }
        BundleCommand::Inspect { file } => {
            let Some(bytes) = read(file) else { return false };
            match Bundle::open(&bytes, None) {
                Ok(b) => {
                    let shown = serde_json::json!({
                        "manifest": b.manifest,
                        "signed": b.has_signature,
                        "note": "the signature is not checked here: `warden bundle verify --key`",
                    });
                    outln!("{}", serde_json::to_string_pretty(&shown).unwrap_or_default());
                    true
                }
                Err(e) => {
                    errln!("{}: {e}", file.display());
                    false
                }
            }
        }
        BundleCommand::Push { file, url, plain_http } => {
            let Some(bytes) = read(file) else { return false };
            // What is pushed must at least be a bundle; the manifest goes up as the artifact's config.
            let manifest = match Bundle::open(&bytes, None).map(|b| serde_json::to_vec(&b.manifest)) {
                Ok(Ok(m)) => m,
                Ok(Err(e)) => {
                    errln!("error: {e}");
                    return false;
                }
                Err(e) => {
                    errln!("{}: {e}", file.display());
                    return false;
                }
            };
            let credentials =
                match (std::env::var("WARDEN_REGISTRY_USERNAME"), std::env::var("WARDEN_REGISTRY_PASSWORD")) {
                    (Ok(u), Ok(p)) => Some((u, p)),
                    _ => None,
                };
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(r) => r,
                Err(e) => {
                    errln!("error: {e}");
                    return false;
                }
            };
            let registry = bundle::registry::Registry::new(*plain_http, Duration::from_secs(30), credentials);
            match runtime.block_on(registry.push(url, bytes, manifest)) {
                Ok(at) => {
                    outln!("pushed `{}` to {url} ({at})", file.display());
                    true
                }
                Err(e) => {
                    errln!("error: cannot push to {url}: {e}");
                    false
                }
            }
        }
    }
}

fn read(file: &Path) -> Option<Vec<u8>> {
    match std::fs::metadata(file) {
        Ok(m) if m.len() > bundle::MAX_BUNDLE_BYTES => {
            errln!("error: `{}` is larger than a bundle may be ({} bytes)", file.display(), bundle::MAX_BUNDLE_BYTES);
            return None;
        }
        Err(e) => {
            errln!("error: cannot read `{}`: {e}", file.display());
            return None;
        }
        Ok(_) => {}
    }
    std::fs::read(file).map_err(|e| errln!("error: cannot read `{}`: {e}", file.display())).ok()
}

fn build(dir: &Path, output: &Path, sign: Option<&PathBuf>) -> bool {
    let signer =
        match sign.map(|k| warden_server::signing::load_key_file(k).and_then(warden_server::mint::Minter::for_key)) {
            None => None,
            Some(Ok(m)) => Some(m),
            Some(Err(e)) => {
                errln!("error: {e}");
                return false;
            }
        };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    match bundle::build(dir, signer.as_ref(), now_ms) {
        Ok((bytes, manifest)) => match std::fs::write(output, &bytes) {
            Ok(()) => {
                outln!(
                    "wrote `{}`: revision {}, {} files, {}",
                    output.display(),
                    manifest.revision,
                    manifest.files.len(),
                    if signer.is_some() { "signed" } else { "unsigned (`warden serve` accepts only signed bundles)" }
                );
                true
            }
            Err(e) => {
                errln!("error: cannot write `{}`: {e}", output.display());
                false
            }
        },
        Err(e) => {
            errln!("error: {e}");
            false
        }
    }
}
