//! TLS and mutual TLS for the listeners (rustls on aws-lc-rs): a server
//! certificate and key from PEM files, and, when a client CA is configured,
//! client certificates required and verified against it, so that only gateways
//! holding a certificate from that CA may ask for decisions. The files are
//! read again every few seconds ([`Reloading`]): when they changed and the
//! new ones make a valid configuration, new handshakes use it (cert-manager
//! and SPIFFE rotate certificates in place); connections already open keep
//! theirs; files that do not load leave the last good configuration serving.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

use super::config::Tls;

fn certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| format!("cannot read the {what} `{}`: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("the {what} `{}` holds no PEM certificate", path.display()));
    }
    Ok(certs)
}

/// A listener's TLS configuration, read again from its files when they change.
pub struct Reloading {
    tls: Tls,
    current: arc_swap::ArcSwap<rustls::ServerConfig>,
    /// The SHA-256 of the files the current configuration was read from.
    digest: std::sync::Mutex<Vec<u8>>,
}

impl Reloading {
    /// Reads the files once (an error here is a start-up error).
    pub fn new(tls: &Tls) -> Result<Arc<Reloading>, String> {
        let digest = files_digest(tls).map_err(|e| format!("TLS: {e}"))?;
        let config = server_config(tls)?;
        Ok(Arc::new(Reloading {
            tls: tls.clone(),
            current: arc_swap::ArcSwap::new(config),
            digest: std::sync::Mutex::new(digest),
        }))
    }

    /// The acceptor for the next handshake.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.current.load_full())
    }

    /// Reads the files again; when they changed and load, new handshakes use
    /// them. Whether the configuration changed, or why the new files were
    /// refused (the last good configuration stays).
    pub fn check(&self) -> Result<bool, String> {
        let digest = files_digest(&self.tls)?;
        let mut held = self.digest.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if *held == digest {
            return Ok(false);
        }
        // Remembered even when refused: a bad file is said once, not every round.
        *held = digest;
        drop(held);
        let config = server_config(&self.tls)?;
        self.current.store(config);
        Ok(true)
    }

    /// Checks every `every` until the process ends, saying what changed.
    pub fn spawn_watch(self: Arc<Self>, name: &'static str, every: std::time::Duration) {
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let this = Arc::clone(&self);
                match tokio::task::spawn_blocking(move || this.check()).await {
                    Ok(Ok(true)) => tracing::info!("{name} TLS certificate reloaded"),
                    Ok(Ok(false)) => {}
                    Ok(Err(e)) => {
                        tracing::warn!("{name} TLS files changed but are refused ({e}); the last good ones stay")
                    }
                    Err(_) => {}
                }
            }
        });
    }
}

/// The SHA-256 of the certificate, key and client CA files as they are now
/// (the key's digest only: its bytes never leave this function).
fn files_digest(tls: &Tls) -> Result<Vec<u8>, String> {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    for path in [Some(&tls.cert), Some(&tls.key), tls.client_ca.as_ref()].into_iter().flatten() {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    Ok(h.finalize().to_vec())
}

/// The configuration for a listener's `[…tls]` settings; errors name the file
/// at fault (never its contents). Both HTTP/2 and HTTP/1.1 are offered by ALPN.
fn server_config(tls: &Tls) -> Result<Arc<rustls::ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let chain = certs(&tls.cert, "certificate")?;
    // The key's text is never put in an error: only its path.
    let key = PrivateKeyDer::from_pem_file(&tls.key)
        .map_err(|e| format!("cannot read the private key `{}`: {e}", tls.key.display()))?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let builder = match &tls.client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in certs(ca, "client CA")? {
                roots.add(cert).map_err(|e| format!("the client CA `{}`: {e}", ca.display()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| format!("the client CA `{}`: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("the certificate `{}` and key `{}`: {e}", tls.cert.display(), tls.key.display()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
