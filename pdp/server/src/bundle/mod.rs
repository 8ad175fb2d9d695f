//! Policy bundles (`warden bundle`, `[bundle]`): one gzip'd tar archive with
//! a set's sources and the files they read, the compiled graph, a manifest
//! (the revision, graph version, build time, tool version, and the SHA-256
//! of every file) and a detached JWS over the manifest. Opening a bundle
//! checks everything before anything is used: its size, every entry's name
//! (plain relative paths, regular files only), the signature against the
//! configured keys, and every file against the manifest. Activating one
//! (`registry.rs`, `poll.rs`) also compiles the sources and refuses a bundle
//! whose revision is not the one its manifest names.
//!
//! A bundle never carries a secret: a set whose issuers read an HS* secret or
//! an introspection secret from a file is refused (`secret env` instead).

pub mod poll;
pub mod registry;

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Component, Path};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Digest as _;
use warden_compiler::graph::{Graph, SecretSource};

/// The OCI media type of a bundle (the artifact's one layer).
pub const MEDIA_TYPE: &str = "application/vnd.warden.bundle.v1.tar+gzip";
/// The OCI media type of a bundle's manifest (the artifact's config).
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.warden.bundle.manifest.v1+json";
/// The JWS `typ` of a bundle's signature.
pub const SIGNATURE_TYP: &str = "warden-bundle+jws";
/// `format` of a manifest this version writes and reads.
pub const FORMAT: &str = "warden-bundle/1";

/// The largest bundle read, compressed and unpacked: 64 MiB.
pub const MAX_BUNDLE_BYTES: u64 = 64 << 20;
/// The most files a bundle holds.
const MAX_ENTRIES: usize = 10_000;

/// Where things are in the archive.
const MANIFEST: &str = "manifest.json";
const SIGNATURE: &str = "manifest.jws";
const GRAPH: &str = "graph.json";
const SET: &str = "set/";

/// A bundle's manifest: what `warden bundle inspect` shows and the signature covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The set's revision (the content digest `warden compile` prints).
    pub revision: String,
    /// The graph's format version.
    pub graph_version: u32,
    /// When it was built (Unix ms).
    pub built_at_ms: u64,
    /// The `warden` that built it.
    pub tool_version: String,
    /// The SHA-256 (hex) of `graph.json`.
    pub graph_sha256: String,
    /// Every file of the set, by its path relative to the set.
    pub files: Vec<FileEntry>,
}

/// One file of a bundled set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Relative to the set, `/`-separated.
    pub path: String,
    /// Its SHA-256, hex.
    pub sha256: String,
    /// Its size in bytes.
    pub bytes: u64,
}

/// A bundle read and checked.
#[derive(Debug)]
pub struct Bundle {
    /// Its manifest.
    pub manifest: Manifest,
    /// The key that signed it (`None`: opened without keys, for `inspect`).
    pub signed_by: Option<String>,
    /// Whether it carries a signature at all.
    pub has_signature: bool,
    /// The set's files by relative path.
    pub files: BTreeMap<String, Vec<u8>>,
    /// The compiled graph as built.
    pub graph: Vec<u8>,
}

/// Why a bundle was refused.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Not a readable archive, or one with entries a bundle may not have.
    #[error("not a valid bundle: {0}")]
    Archive(String),
    /// No signature, and keys were given.
    #[error("the bundle is not signed (a bundle is only accepted signed by a configured key)")]
    Unsigned,
    /// The signature does not verify.
    #[error("the bundle's signature does not verify: {0}")]
    Signature(String),
    /// A file differs from its manifest.
    #[error("the bundle was altered: {0}")]
    Tampered(String),
}

/// SHA-256, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A path inside a bundle: relative, `/`-separated, plain names only.
fn plain(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= 1_024
        && !path.contains('\\')
        && Path::new(path).components().all(|c| matches!(c, Component::Normal(_)))
}

/// The files of the set under `dir` a bundle carries: its `*.warden`
/// files and every file its policies read, by path relative to `dir`, with
/// the compiled graph. Refuses a set with errors and one that reads a
/// secret from a file.
pub fn collect(dir: &Path) -> Result<(Graph, BTreeMap<String, Vec<u8>>), String> {
    let compiled = warden_project::compile_dir(dir).map_err(|e| e.to_string())?;
    let mut secrets = Vec::new();
    for issuer in &compiled.graph.issuers {
        if let Some(SecretSource::File(p)) = &issuer.secret {
            secrets.push(p.clone());
        }
        if let Some(SecretSource::File(p)) = issuer.introspect.as_ref().map(|i| &i.secret) {
            secrets.push(p.clone());
        }
    }
    if let Some(p) = secrets.first() {
        return Err(format!(
            "the set reads a secret from `{p}`: a bundle never carries secrets (registries are read by many); \
             read it from the environment (`secret env \"NAME\"`) instead"
        ));
    }
    let mut files = BTreeMap::new();
    let root = compiled.loader.root.clone();
    for f in &compiled.set.files {
        let path = Path::new(&f.path);
        let canonical = std::fs::canonicalize(path).map_err(|e| format!("cannot read `{}`: {e}", f.path))?;
        let relative = canonical.strip_prefix(&root).map_err(|_| format!("`{}` is outside the set", f.path))?;
        let name = relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
        files.insert(name, f.text.clone().into_bytes());
    }
    // The files the policies read, as the compiler read them.
    let recorder = Recorder { inner: &compiled.loader, read: std::sync::Mutex::new(BTreeMap::new()) };
    warden_compiler::compile(&compiled.set, &recorder).map_err(|_| "the set no longer compiles".to_owned())?;
    for (path, bytes) in recorder.read.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner) {
        let name = path.trim_start_matches("./").to_owned();
        if !plain(&name) {
            return Err(format!("`{path}` cannot be carried in a bundle (a plain relative path is needed)"));
        }
        files.insert(name, bytes);
    }
    Ok((compiled.graph, files))
}

/// A loader that keeps what it read.
struct Recorder<'a> {
    inner: &'a warden_project::FsLoader,
    read: std::sync::Mutex<BTreeMap<String, Vec<u8>>>,
}

impl warden_compiler::Loader for Recorder<'_> {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        let bytes = self.inner.read(path)?;
        self.read.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(path.to_owned(), bytes.clone());
        Ok(bytes)
    }
}

/// Builds the bundle of the set under `dir`, signed by `signer` when given;
/// the archive's bytes and its manifest.
pub fn build(dir: &Path, signer: Option<&crate::mint::Minter>, now_ms: u64) -> Result<(Vec<u8>, Manifest), String> {
    let (graph, files) = collect(dir)?;
    let graph_json = serde_json::to_vec(&graph).map_err(|e| format!("cannot write the graph: {e}"))?;
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        revision: graph.revision.clone(),
        graph_version: graph.version,
        built_at_ms: now_ms,
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        graph_sha256: sha256_hex(&graph_json),
        files: files
            .iter()
            .map(|(path, bytes)| FileEntry { path: path.clone(), sha256: sha256_hex(bytes), bytes: bytes.len() as u64 })
            .collect(),
    };
    let manifest_value = serde_json::to_value(&manifest).map_err(|e| format!("cannot write the manifest: {e}"))?;
    let manifest_json = serde_json::to_vec(&manifest_value).map_err(|e| format!("cannot write the manifest: {e}"))?;
    let mut entries: Vec<(String, Vec<u8>)> = vec![(MANIFEST.to_owned(), manifest_json)];
    if let Some(signer) = signer {
        let jws = signer.sign_jws(SIGNATURE_TYP, &manifest_value)?;
        // Detached (RFC 7515 appendix F): the payload is manifest.json itself.
        let detached = match jws.split('.').collect::<Vec<_>>()[..] {
            [h, _, s] => format!("{h}..{s}"),
            _ => return Err("the signer made no compact JWS".to_owned()),
        };
        entries.push((SIGNATURE.to_owned(), detached.into_bytes()));
    }
    entries.push((GRAPH.to_owned(), graph_json));
    for (path, bytes) in files {
        entries.push((format!("{SET}{path}"), bytes));
    }
    let mut archive = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()));
    for (path, bytes) in &entries {
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        // A fixed time: the same set builds the same archive, but for the manifest's build time.
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        archive.append_data(&mut header, path, bytes.as_slice()).map_err(|e| format!("cannot write `{path}`: {e}"))?;
    }
    let bytes = archive
        .into_inner()
        .and_then(flate2::write::GzEncoder::finish)
        .map_err(|e| format!("cannot write the archive: {e}"))?;
    Ok((bytes, manifest))
}

impl Bundle {
    /// Reads and checks a bundle. With `keys` (a JWKS), it must carry a
    /// signature that one of them verifies; without, a signature is not
    /// checked (`warden bundle inspect`). Every file must match the manifest.
    pub fn open(bytes: &[u8], keys: Option<&Value>) -> Result<Bundle, BundleError> {
        let bad = |what: String| BundleError::Archive(what);
        if bytes.len() as u64 > MAX_BUNDLE_BYTES {
            return Err(bad(format!("larger than {MAX_BUNDLE_BYTES} bytes")));
        }
        // Unpacked size bounded too: a small archive may inflate to anything.
        let unpacked = flate2::read::GzDecoder::new(bytes).take(MAX_BUNDLE_BYTES + 1);
        let mut archive = tar::Archive::new(unpacked);
        let mut entries: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let mut total: u64 = 0;
        for entry in archive.entries().map_err(|e| bad(e.to_string()))? {
            let mut entry = entry.map_err(|e| bad(e.to_string()))?;
            let kind = entry.header().entry_type();
            let name = entry.path().map_err(|e| bad(e.to_string()))?.to_string_lossy().into_owned();
            if kind.is_dir() {
                continue;
            }
            if kind != tar::EntryType::Regular || !plain(&name) {
                return Err(bad(format!("`{name}` is not a plain file at a plain relative path")));
            }
            if entries.len() >= MAX_ENTRIES {
                return Err(bad(format!("more than {MAX_ENTRIES} files")));
            }
            let mut data = Vec::new();
            entry.read_to_end(&mut data).map_err(|e| bad(format!("`{name}`: {e}")))?;
            total += data.len() as u64;
            if total > MAX_BUNDLE_BYTES {
                return Err(bad(format!("more than {MAX_BUNDLE_BYTES} bytes unpacked")));
            }
            if entries.insert(name.clone(), data).is_some() {
                return Err(bad(format!("`{name}` appears twice")));
            }
        }
        let manifest_json = entries.remove(MANIFEST).ok_or_else(|| bad("no `manifest.json`".to_owned()))?;
        let signature = entries.remove(SIGNATURE);
        let has_signature = signature.is_some();
        let signed_by = match keys {
            None => None,
            Some(keys) => {
                let jws = signature.ok_or(BundleError::Unsigned)?;
                let jws = String::from_utf8(jws).map_err(|_| BundleError::Signature("not text".to_owned()))?;
                let (Some((h, rest)), true) = (jws.split_once(".."), jws.matches('.').count() == 2) else {
                    return Err(BundleError::Signature("not a detached compact JWS".to_owned()));
                };
                let payload = URL_SAFE_NO_PAD.encode(&manifest_json);
                Some(
                    crate::signing::verify_compact(h, &payload, rest, keys, SIGNATURE_TYP)
                        .map_err(BundleError::Signature)?,
                )
            }
        };
        // Only now, signed (or not asked to be), is the manifest believed.
        let manifest: Manifest =
            serde_json::from_slice(&manifest_json).map_err(|e| bad(format!("`manifest.json`: {e}")))?;
        if manifest.format != FORMAT {
            return Err(bad(format!("format `{}`; this Warden reads `{FORMAT}`", manifest.format)));
        }
        let graph = entries.remove(GRAPH).ok_or_else(|| bad("no `graph.json`".to_owned()))?;
        if sha256_hex(&graph) != manifest.graph_sha256 {
            return Err(BundleError::Tampered("`graph.json` is not the one the manifest names".to_owned()));
        }
        let mut files = BTreeMap::new();
        for (name, data) in entries {
            let Some(path) = name.strip_prefix(SET) else {
                return Err(bad(format!("`{name}` is not part of a bundle")));
            };
            files.insert(path.to_owned(), data);
        }
        let listed: BTreeMap<&str, &FileEntry> = manifest.files.iter().map(|f| (f.path.as_str(), f)).collect();
        for (path, data) in &files {
            match listed.get(path.as_str()) {
                None => return Err(BundleError::Tampered(format!("`{path}` is not in the manifest"))),
                Some(f) if f.sha256 != sha256_hex(data) || f.bytes != data.len() as u64 => {
                    return Err(BundleError::Tampered(format!("`{path}` is not the file the manifest names")));
                }
                Some(_) => {}
            }
        }
        if let Some(missing) = manifest.files.iter().find(|f| !files.contains_key(&f.path)) {
            return Err(BundleError::Tampered(format!("`{}` is missing", missing.path)));
        }
        Ok(Bundle { manifest, signed_by, has_signature, files, graph })
    }

    /// Writes the set's files under `dir` (which must not exist), as the set was laid out.
    pub fn extract(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir(dir)?;
        for (path, data) in &self.files {
            // `open` let only plain relative paths through.
            let target = dir.join(path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&target, data)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        std::fs::write(
            dir.path().join("main.warden"),
            "zone edge {\n  require tls\n}\n\ndata blocked = file \"data/blocked.json\"\n\napi a in zone edge {\n  host \"api.example\"\n  auth none\n\n  route GET \"/x\" {\n    deny when source.ip in data.blocked\n    allow\n  }\n}\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("data/blocked.json"), "[\"203.0.113.9\"]").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not part of the set").unwrap();
        dir
    }

    fn signer(dir: &Path) -> (crate::mint::Minter, Value) {
        let key = dir.join("bundle.pem");
        crate::signing::generate_file(crate::signing::Algorithm::ES256, &key).unwrap();
        let key = crate::signing::load_key_file(&key).unwrap();
        let jwks = crate::signing::public_jwks(&key);
        (crate::mint::Minter::for_key(key).unwrap(), jwks)
    }

    #[test]
    fn a_signed_bundle_opens_with_its_key_and_carries_just_the_set() {
        let dir = set();
        let keys = tempfile::tempdir().unwrap();
        let (minter, jwks) = signer(keys.path());
        let (bytes, manifest) = build(dir.path(), Some(&minter), 1_000).unwrap();
        let compiled = warden_project::compile_dir(dir.path()).unwrap();
        assert_eq!(manifest.revision, compiled.graph.revision);
        let b = Bundle::open(&bytes, Some(&jwks)).unwrap();
        assert_eq!(b.manifest, manifest);
        assert_eq!(b.signed_by.as_deref(), jwks["keys"][0]["kid"].as_str());
        let paths: Vec<&str> = b.files.keys().map(String::as_str).collect();
        assert_eq!(paths, ["data/blocked.json", "main.warden"]);
        // Extracted, it compiles to the same revision.
        let out = tempfile::tempdir().unwrap();
        b.extract(&out.path().join("set")).unwrap();
        assert_eq!(warden_project::compile_dir(&out.path().join("set")).unwrap().graph.revision, manifest.revision);
    }

    #[test]
    fn unsigned_wrongly_signed_or_altered_bundles_are_refused() {
        let dir = set();
        let keys = tempfile::tempdir().unwrap();
        let (minter, jwks) = signer(keys.path());
        let (unsigned, _) = build(dir.path(), None, 1_000).unwrap();
        assert!(matches!(Bundle::open(&unsigned, Some(&jwks)), Err(BundleError::Unsigned)));
        assert!(Bundle::open(&unsigned, None).is_ok_and(|b| !b.has_signature));
        let other = tempfile::tempdir().unwrap();
        let (_, other_jwks) = signer(other.path());
        let (signed, _) = build(dir.path(), Some(&minter), 1_000).unwrap();
        let Err(BundleError::Signature(why)) = Bundle::open(&signed, Some(&other_jwks)) else {
            panic!("another key verified it")
        };
        assert!(why.contains("no key"), "{why}");
        // A file changed after signing: the manifest no longer matches.
        let tampered = rewrite(&signed, |name, data| {
            if name == "set/data/blocked.json" {
                *data = b"[]".to_vec();
            }
        });
        let Err(BundleError::Tampered(why)) = Bundle::open(&tampered, Some(&jwks)) else { panic!("tampered opened") };
        assert!(why.contains("data/blocked.json"), "{why}");
        // The manifest changed with it: the signature no longer verifies.
        let forged = rewrite(&signed, |name, data| {
            if name == "manifest.json" {
                *data = String::from_utf8(data.clone())
                    .unwrap()
                    .replace("\"built_at_ms\":1000", "\"built_at_ms\":2000")
                    .into_bytes();
            }
        });
        assert!(matches!(Bundle::open(&forged, Some(&jwks)), Err(BundleError::Signature(_))));
    }

    #[test]
    fn a_set_that_reads_a_secret_from_a_file_is_not_bundled() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hs.key"), "0123456789abcdef0123456789abcdef").unwrap();
        std::fs::write(
            dir.path().join("main.warden"),
            "zone edge {\n  issuer \"https://idp.example\" {\n    secret file \"hs.key\"\n    algorithms HS256\n    audience \"api\"\n  }\n}\n\napi a in zone edge {\n  host \"api.example\"\n  auth bearer\n\n  route GET \"/x\" {\n    allow\n  }\n}\n",
        )
        .unwrap();
        let err = build(dir.path(), None, 0).unwrap_err();
        assert!(err.contains("never carries secrets") && !err.contains("0123456789"), "{err}");
    }

    #[test]
    fn entries_that_leave_the_set_are_refused() {
        for name in ["../evil.warden", "/etc/passwd", "set/../../x"] {
            let mut archive =
                tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()));
            let mut header = tar::Header::new_gnu();
            header.set_size(1);
            header.set_entry_type(tar::EntryType::Regular);
            // `append_data` refuses such names; written raw, as an attacker would.
            header.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
            header.set_cksum();
            archive.append(&header, &b"x"[..]).unwrap();
            let bytes = archive.into_inner().unwrap().finish().unwrap();
            let Err(BundleError::Archive(why)) = Bundle::open(&bytes, None) else { panic!("{name} accepted") };
            assert!(why.contains("plain relative path"), "{name}: {why}");
        }
    }

    /// The archive `bytes` with each entry passed through `edit`.
    fn rewrite(bytes: &[u8], edit: impl Fn(&str, &mut Vec<u8>)) -> Vec<u8> {
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
        let mut out = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()));
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            edit(&name, &mut data);
            let mut header = tar::Header::new_ustar();
            header.set_size(data.len() as u64);
            header.set_entry_type(tar::EntryType::Regular);
            out.append_data(&mut header, &name, data.as_slice()).unwrap();
        }
        out.into_inner().unwrap().finish().unwrap()
    }
}
