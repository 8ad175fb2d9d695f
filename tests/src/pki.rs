//! A test PKI for the TLS end-to-end tests: a CA, a server certificate for
//! `127.0.0.1`/`localhost` and a client certificate with a SPIFFE URI, all made
//! per run with rcgen (nothing committed), and a blocking HTTPS/1.1 client on
//! rustls that presents the client certificate or not.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::{Response, parse_response};

/// PEM files of one run's PKI.
pub struct Pki {
    /// The CA certificate (trusted by clients, and the server's client CA).
    pub ca: PathBuf,
    /// The server certificate and key.
    pub server_cert: PathBuf,
    /// The server's key.
    pub server_key: PathBuf,
    /// A client certificate issued by the CA, and its key.
    pub client_cert: PathBuf,
    /// The client's key.
    pub client_key: PathBuf,
    /// A client certificate issued by the CA for the to-do service's workload
    /// (`spiffe://todo.example/ns/todo/api`, which `policies/todo` admits).
    pub service_cert: PathBuf,
    /// The service's key.
    pub service_key: PathBuf,
    /// A client certificate from another (untrusted) CA, and its key.
    pub stranger_cert: PathBuf,
    /// The stranger's key.
    pub stranger_key: PathBuf,
}

fn e(err: impl std::fmt::Display) -> String {
    err.to_string()
}

fn ca(name: &str) -> Result<(Issuer<'static, KeyPair>, String), String> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(e)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    let key = KeyPair::generate().map_err(e)?;
    let pem = params.self_signed(&key).map_err(e)?.pem();
    Ok((Issuer::new(params, key), pem))
}

fn leaf(issuer: &Issuer<'_, KeyPair>, sans: Vec<SanType>) -> Result<(String, String), String> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(e)?;
    params.subject_alt_names = sans;
    let key = KeyPair::generate().map_err(e)?;
    let cert = params.signed_by(&key, issuer).map_err(e)?;
    Ok((cert.pem(), key.serialize_pem()))
}

impl Pki {
    /// Makes the PKI and writes it into `dir`. The client certificate names
    /// `spiffe://gateways.example/edge`.
    pub fn new(dir: &Path) -> Result<Pki, String> {
        let (issuer, ca_pem) = ca("warden test CA")?;
        let localhost = SanType::DnsName("localhost".try_into().map_err(e)?);
        let ip = SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1]));
        let (server_cert, server_key) = leaf(&issuer, vec![localhost, ip])?;
        let uri = SanType::URI("spiffe://gateways.example/edge".try_into().map_err(e)?);
        let (client_cert, client_key) = leaf(&issuer, vec![uri.clone()])?;
        let todo = SanType::URI("spiffe://todo.example/ns/todo/api".try_into().map_err(e)?);
        let (service_cert, service_key) = leaf(&issuer, vec![todo])?;
        let (other, _) = ca("some other CA")?;
        let (stranger_cert, stranger_key) = leaf(&other, vec![uri])?;
        let write = |name: &str, text: &str| -> Result<PathBuf, String> {
            let p = dir.join(name);
            std::fs::write(&p, text).map_err(e)?;
            Ok(p)
        };
        Ok(Pki {
            ca: write("ca.pem", &ca_pem)?,
            server_cert: write("server.pem", &server_cert)?,
            server_key: write("server.key", &server_key)?,
            client_cert: write("client.pem", &client_cert)?,
            client_key: write("client.key", &client_key)?,
            service_cert: write("service.pem", &service_cert)?,
            service_key: write("service.key", &service_key)?,
            stranger_cert: write("stranger.pem", &stranger_cert)?,
            stranger_key: write("stranger.key", &stranger_key)?,
        })
    }

    /// A rustls client trusting the CA, presenting `identity` (cert, key) if given,
    /// offering `alpn`.
    pub fn client_config(
        &self,
        identity: Option<(&Path, &Path)>,
        alpn: &[&[u8]],
    ) -> Result<rustls::ClientConfig, String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(&self.ca).map_err(e)? {
            roots.add(c.map_err(e)?).map_err(e)?;
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(e)?
            .with_root_certificates(roots);
        let mut config = match identity {
            Some((cert, key)) => {
                let chain =
                    CertificateDer::pem_file_iter(cert).map_err(e)?.collect::<Result<Vec<_>, _>>().map_err(e)?;
                let key = PrivateKeyDer::from_pem_file(key).map_err(e)?;
                builder.with_client_auth_cert(chain, key).map_err(e)?
            }
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = alpn.iter().map(|a| a.to_vec()).collect();
        Ok(config)
    }
}

/// A fresh CA named `name` and a server certificate it issued for
/// `localhost` and 127.0.0.1: the CA's PEM, the certificate's and the key's.
pub fn server_chain(name: &str) -> Result<(String, String, String), String> {
    let (issuer, ca_pem) = ca(name)?;
    let localhost = SanType::DnsName("localhost".try_into().map_err(e)?);
    let ip = SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1]));
    let (cert, key) = leaf(&issuer, vec![localhost, ip])?;
    Ok((ca_pem, cert, key))
}

/// A rustls client (HTTP/1.1) trusting only the CAs in these PEM texts.
pub fn client_trusting(cas: &[&str]) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for pem in cas {
        for c in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            roots.add(c.map_err(e)?).map_err(e)?;
        }
    }
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(e)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// One HTTPS/1.1 request with `Connection: close` to `addr` (server name
/// `localhost`); the handshake failing (no or wrong client certificate) is an `Err`.
pub fn https_request(
    config: rustls::ClientConfig,
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> Result<Response, String> {
    https_request_with(config, addr, method, path, &[], body)
}

/// [`https_request`] with more request `headers`.
pub fn https_request_with(
    config: rustls::ClientConfig,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Response, String> {
    let name = ServerName::try_from("localhost").map_err(e)?;
    let conn = rustls::ClientConnection::new(Arc::new(config), name).map_err(e)?;
    let sock = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(e)?;
    sock.set_read_timeout(Some(Duration::from_secs(10))).map_err(e)?;
    let mut tls = rustls::StreamOwned::new(conn, sock);
    let extra: String = headers.iter().map(|(n, v)| format!("{n}: {v}\r\n")).collect();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\n\r\n",
        body.map_or(0, <[u8]>::len)
    );
    tls.write_all(head.as_bytes()).map_err(e)?;
    if let Some(b) = body {
        tls.write_all(b).map_err(e)?;
    }
    tls.flush().map_err(e)?;
    let mut raw = Vec::new();
    match tls.read_to_end(&mut raw) {
        Ok(_) => {}
        // Servers may close without close_notify once the answer is sent.
        Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(err) => return Err(err.to_string()),
    }
    parse_response(&raw)
}
