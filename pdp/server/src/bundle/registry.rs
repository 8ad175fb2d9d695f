//! Where bundles come from. An OCI registry (`oci://HOST[:PORT]/REPO:TAG`), through the
//! `oci-client` crate: pushed as an artifact of one layer of media type
//! [`MEDIA_TYPE`](super::MEDIA_TYPE) with the manifest as its config; pulled
//! by digest (the tag is resolved with one small `HEAD` request, so an
//! unchanged bundle costs nothing more), its one layer bounded in size and
//! checked against the digest the manifest names. Or a bundle file at an
//! `https://` URL ([`FileServer`]), fetched with `If-None-Match`.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use super::{MANIFEST_MEDIA_TYPE, MAX_BUNDLE_BYTES, MEDIA_TYPE};

/// A registry client and the credentials it presents.
pub struct Registry {
    client: Client,
    auth: RegistryAuth,
}

/// `oci://HOST/REPO:TAG` as a reference; `Err` says why not.
pub fn reference(url: &str) -> Result<Reference, String> {
    let rest = url.strip_prefix("oci://").ok_or_else(|| format!("`{url}` is not an `oci://` URL"))?;
    rest.parse::<Reference>().map_err(|e| format!("`{url}` is not a registry reference: {e}"))
}

/// Checks a bundle URL: `oci://HOST/REPO:TAG`, or an `https://` URL of a
/// bundle file (plain `http://` only with `plain_http`).
pub fn check_url(url: &str, plain_http: bool) -> Result<(), String> {
    if url.starts_with("oci://") {
        return reference(url).map(|_| ());
    }
    let parsed = url::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if plain_http => Ok(()),
        _ => Err(format!("`{url}` is neither `oci://…` nor `https://…` (plain `http://` only with `plain_http`)")),
    }
}

/// A bundle file served over HTTPS: fetched with `If-None-Match`, so an
/// unchanged one costs a `304`; its digest is the SHA-256 of its bytes.
pub struct FileServer {
    client: reqwest::Client,
    etag: std::sync::Mutex<Option<String>>,
}

impl FileServer {
    /// A client bounded by `timeout`, presenting `credentials` (HTTP Basic) when given.
    pub fn new(timeout: Duration) -> Result<FileServer, String> {
        let client =
            reqwest::Client::builder().timeout(timeout).build().map_err(|e| format!("the bundle client: {e}"))?;
        Ok(FileServer { client, etag: std::sync::Mutex::new(None) })
    }

    /// The bundle at `url` and its digest, or `None` when it has not changed
    /// since the last fetch (`304`).
    pub async fn fetch(
        &self,
        url: &str,
        credentials: Option<&(String, String)>,
    ) -> Result<Option<(String, Vec<u8>)>, String> {
        let etag = self.etag.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let mut req = self.client.get(url);
        if let Some(tag) = &etag {
            req = req.header("if-none-match", tag);
        }
        if let Some((user, password)) = credentials {
            req = req.basic_auth(user, Some(password));
        }
        let mut resp = req
            .send()
            .await
            .map_err(|e| if e.is_timeout() { "timed out".to_owned() } else { "unreachable".to_owned() })?;
        if resp.status() == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(format!("the bundle server answered {}", resp.status()));
        }
        if resp.content_length().is_some_and(|n| n > MAX_BUNDLE_BYTES) {
            return Err(format!("the bundle is larger than {MAX_BUNDLE_BYTES} bytes"));
        }
        let tag = resp.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|_| "the bundle download broke off".to_owned())? {
            if (bytes.len() + chunk.len()) as u64 > MAX_BUNDLE_BYTES {
                return Err(format!("the bundle is larger than {MAX_BUNDLE_BYTES} bytes"));
            }
            bytes.extend_from_slice(&chunk);
        }
        *self.etag.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = tag;
        Ok(Some((format!("sha256:{}", super::sha256_hex(&bytes)), bytes)))
    }
}

/// What a registry said, without credentials.
fn said(e: &oci_client::errors::OciDistributionError) -> String {
    // The client's errors name URLs and statuses, never the password.
    e.to_string()
}

impl Registry {
    /// A client: HTTPS, or plain HTTP with `plain_http` (a registry on
    /// loopback, in tests); each connection and read bounded by `timeout`;
    /// `username`/`password` when both are given, else anonymous.
    pub fn new(plain_http: bool, timeout: Duration, credentials: Option<(String, String)>) -> Registry {
        let config = ClientConfig {
            protocol: if plain_http { ClientProtocol::Http } else { ClientProtocol::Https },
            read_timeout: Some(timeout),
            connect_timeout: Some(timeout),
            // An artifact is one manifest, never an index to choose from.
            platform_resolver: None,
            ..ClientConfig::default()
        };
        let auth = match credentials {
            Some((user, password)) => RegistryAuth::Basic(user, password),
            None => RegistryAuth::Anonymous,
        };
        Registry { client: Client::new(config), auth }
    }

    /// Pushes a bundle (its bytes, and its manifest as the artifact's config)
    /// to `url`; the manifest URL the registry gave.
    pub async fn push(&self, url: &str, bundle: Vec<u8>, manifest_json: Vec<u8>) -> Result<String, String> {
        let reference = reference(url)?;
        let layer = ImageLayer::new(bundle, MEDIA_TYPE.to_owned(), None);
        let config = Config::new(manifest_json, MANIFEST_MEDIA_TYPE.to_owned(), None);
        let pushed = self.client.push(&reference, &[layer], config, &self.auth, None).await.map_err(|e| said(&e))?;
        Ok(pushed.manifest_url)
    }

    /// The digest the tag of `url` names now (one `HEAD` request).
    pub async fn digest(&self, url: &str) -> Result<String, String> {
        let reference = reference(url)?;
        self.client.fetch_manifest_digest(&reference, &self.auth).await.map_err(|e| said(&e))
    }

    /// The bundle of the artifact `digest` of `url`'s repository: its
    /// manifest must be the one asked for and hold one layer of a bundle's
    /// media type, at most [`MAX_BUNDLE_BYTES`], whose bytes match its digest.
    pub async fn pull(&self, url: &str, digest: &str) -> Result<Vec<u8>, String> {
        let reference = reference(url)?.clone_with_digest(digest.to_owned());
        let (manifest, got) = self.client.pull_image_manifest(&reference, &self.auth).await.map_err(|e| said(&e))?;
        if got != digest {
            return Err(format!("the registry answered manifest {got} for {digest}"));
        }
        let [layer] = manifest.layers.as_slice() else {
            return Err(format!("the artifact has {} layers; a bundle has one", manifest.layers.len()));
        };
        if layer.media_type != MEDIA_TYPE {
            return Err(format!("the artifact's layer is `{}`, not a Warden bundle", layer.media_type));
        }
        if u64::try_from(layer.size).map_or(true, |n| n > MAX_BUNDLE_BYTES) {
            return Err(format!("the bundle is {} bytes; at most {MAX_BUNDLE_BYTES} are read", layer.size));
        }
        let mut out = Bounded { data: Vec::new(), max: MAX_BUNDLE_BYTES as usize };
        // `pull_blob` checks the bytes against the layer's digest.
        self.client.pull_blob(&reference, layer, &mut out).await.map_err(|e| said(&e))?;
        Ok(out.data)
    }
}

/// A byte sink that refuses to grow past `max`.
struct Bounded {
    data: Vec<u8>,
    max: usize,
}

impl tokio::io::AsyncWrite for Bounded {
    fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        if self.data.len() + buf.len() > self.max {
            return Poll::Ready(Err(std::io::Error::other("the bundle is larger than it said")));
        }
        self.data.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_oci_urls_name_a_registry() {
        let r = reference("oci://127.0.0.1:5000/warden/bank:v1").unwrap();
        assert_eq!((r.registry(), r.repository(), r.tag()), ("127.0.0.1:5000", "warden/bank", Some("v1")));
        assert!(reference("https://127.0.0.1:5000/warden/bank:v1").is_err());
        assert!(reference("oci://").is_err());
    }
}
