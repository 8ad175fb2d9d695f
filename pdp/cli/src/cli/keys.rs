//! `warden keys generate FILE [--algorithm ES256|EdDSA|RS256]`: a new signing
//! key for `[issuer]` or for bundles, written as PKCS#8 PEM readable by its
//! owner only; an existing file is never replaced. `warden keys public FILE`:
//! the JWKS of its public half (what `[bundle] keys` and `warden bundle
//! verify --key` take).

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};
use warden_server::signing::{self, Algorithm};

use super::out::{errln, outln};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Write a new private signing key (PKCS#8 PEM, mode 0600) for `[[issuer.keys]]`.
    Generate {
        /// Where to write it (must not exist).
        file: PathBuf,
        /// Its algorithm.
        #[arg(long, value_enum, default_value_t)]
        algorithm: Alg,
    },
    /// Print the JWKS of a private key's public half (its `kid` the RFC 7638 thumbprint).
    Public {
        /// The private key (PKCS#8 PEM).
        file: PathBuf,
    },
}

/// The algorithms of `[[issuer.keys]] algorithm`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Alg {
    /// ECDSA P-256 with SHA-256.
    #[default]
    #[value(name = "ES256")]
    Es256,
    /// Ed25519.
    #[value(name = "EdDSA")]
    EdDsa,
    /// RSA (2048 bits) PKCS#1 v1.5 with SHA-256.
    #[value(name = "RS256")]
    Rs256,
}

pub fn run(args: &Args) -> bool {
    match &args.command {
        KeysCommand::Public { file } => match signing::load_key_file(file) {
            Ok(key) => {
                outln!("{}", signing::public_jwks(&key));
                true
            }
            Err(e) => {
                errln!("error: {e}");
                false
            }
        },
        KeysCommand::Generate { file, algorithm } => {
            let alg = match algorithm {
                Alg::Es256 => Algorithm::ES256,
                Alg::EdDsa => Algorithm::EdDSA,
                Alg::Rs256 => Algorithm::RS256,
            };
            match signing::generate_file(alg, file) {
                Ok(()) => {
                    outln!(
                        "wrote a new {} signing key to `{}`; add it to `[[issuer.keys]]` (state \"next\" first when another key signs)",
                        alg.as_str(),
                        file.display()
                    );
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
