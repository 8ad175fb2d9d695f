//! Client certificates that a gateway passes on (RFC 8705, certificate-bound
//! tokens): PEM, or URL-encoded PEM as nginx's `$ssl_client_escaped_cert` and
//! Envoy's `source.certificate` give it. Parsed as X.509 (a certificate that
//! does not parse is refused, never ignored) into its SHA-256 thumbprint
//! (`x5t#S256`, what a bound token's `cnf` names) and its principal (SPIFFE URI
//! SAN, else first DNS SAN; the peer only where the operator says the proxy
//! verified it). Only doors whose caller may assert a source read it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use sha2::Digest as _;

use crate::engine::run::HttpRequest;

/// The longest certificate text taken (a chain is not: one certificate).
pub const MAX_CERTIFICATE_BYTES: usize = 16 << 10;

/// What Warden takes from a client certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCert {
    /// base64url SHA-256 of the DER (RFC 8705 §3.1 `x5t#S256`).
    pub thumbprint: String,
    /// Its SPIFFE URI SAN, else its first DNS SAN.
    pub principal: Option<String>,
}

impl ClientCert {
    /// Parses one certificate, PEM or URL-encoded PEM; `Err` says what is wrong.
    pub fn parse(text: &str) -> Result<ClientCert, String> {
        if text.len() > MAX_CERTIFICATE_BYTES {
            return Err(format!("the client certificate is larger than {MAX_CERTIFICATE_BYTES} bytes"));
        }
        let decoded;
        let pem = if text.contains('%') {
            decoded = percent_encoding::percent_decode_str(text)
                .decode_utf8()
                .map_err(|_| "the client certificate is not URL-encoded text".to_owned())?;
            decoded.as_ref()
        } else {
            text
        };
        let der = CertificateDer::from_pem_slice(pem.as_bytes())
            .map_err(|_| "the client certificate is not a PEM certificate".to_owned())?;
        x509_parser::parse_x509_certificate(der.as_ref())
            .map_err(|_| "the client certificate does not parse as X.509".to_owned())?;
        let thumbprint = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(der.as_ref()));
        Ok(ClientCert { thumbprint, principal: super::caller::principal(der.as_ref()) })
    }
}

/// Sets the certificate a door was given on its request: its thumbprint, and
/// nothing else. Its names do not become the peer: a proxy may pass on a
/// certificate it did not verify (`ssl_verify_client optional_no_ca`, the
/// self-signed certificates RFC 8705 §3 allows), and holding the private key
/// of a self-signed certificate proves no name. An empty text is no
/// certificate (nginx's variable is empty without one).
pub fn apply(req: &mut HttpRequest, text: Option<&str>) -> Result<(), String> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else { return Ok(()) };
    req.certificate = Some(ClientCert::parse(text)?.thumbprint);
    Ok(())
}

/// From a proxy of `forward_auth.client_cert_peer_proxies` (it verified the certificate
/// against a CA): its SPIFFE URI SAN, else first DNS SAN, becomes the peer.
/// A certificate that names neither leaves no peer (`auth mtls` then refuses).
pub fn apply_peer(req: &mut HttpRequest, text: Option<&str>) -> Result<(), String> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else { return Ok(()) };
    req.peer = ClientCert::parse(text)?.principal;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem_of(san: &str) -> (String, Vec<u8>) {
        let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
        params.subject_alt_names = vec![rcgen::SanType::URI(rcgen::string::Ia5String::try_from(san).unwrap())];
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), cert.der().to_vec())
    }

    #[test]
    fn pem_and_url_encoded_pem_give_the_thumbprint_and_principal() {
        let (pem, der) = pem_of("spiffe://example.org/client");
        let want = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&der));
        let plain = ClientCert::parse(&pem).unwrap();
        assert_eq!(
            (plain.thumbprint.as_str(), plain.principal.as_deref()),
            (want.as_str(), Some("spiffe://example.org/client"))
        );
        // As nginx's `$ssl_client_escaped_cert` writes it.
        let escaped: String = percent_encoding::utf8_percent_encode(&pem, percent_encoding::NON_ALPHANUMERIC).collect();
        assert!(escaped.contains("%2B") || escaped.contains("%2F") || escaped.contains("%0A"), "{escaped}");
        assert_eq!(ClientCert::parse(&escaped).unwrap(), plain);
        assert_eq!(want.len(), 43);
        // On a request, only the thumbprint: the names do not become the peer…
        let mut req = HttpRequest::default();
        apply(&mut req, Some(&pem)).unwrap();
        assert_eq!((req.certificate.as_deref(), req.peer.as_deref()), (Some(want.as_str()), None));
        // …unless the operator says the proxy verified it.
        apply_peer(&mut req, Some(&escaped)).unwrap();
        assert_eq!(req.peer.as_deref(), Some("spiffe://example.org/client"));
    }

    #[test]
    fn what_is_not_one_certificate_is_refused() {
        assert!(ClientCert::parse("hello").is_err());
        assert!(ClientCert::parse("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").is_err());
        assert!(ClientCert::parse("%ZZ-----BEGIN").is_err());
        assert!(ClientCert::parse(&"A".repeat(MAX_CERTIFICATE_BYTES + 1)).unwrap_err().contains("larger"));
        let mut req = HttpRequest::default();
        apply(&mut req, Some("  ")).unwrap();
        assert_eq!((req.certificate, req.peer), (None, None));
    }
}
