//! The revision: a digest of the set's content (its files, relative to the
//! set, and the referenced files' bytes), the same wherever the set is loaded from.

use sha2::{Digest, Sha256};

use super::Lowerer;

impl Lowerer<'_> {
    /// A digest of content only: each file's text with its path relative to
    /// the set (see [`relative_paths`]), and each referenced file's bytes with
    /// the path the policy wrote. So `warden compile policies/bank`, the same
    /// set loaded as `/srv/policies/bank/` by the service, and a copy of it
    /// elsewhere, all carry the same revision.
    pub(super) fn revision(&self) -> String {
        let mut h = Sha256::new();
        let mut feed = |name: &str, bytes: &[u8]| {
            h.update((name.len() as u64).to_le_bytes());
            h.update(name.as_bytes());
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        let paths: Vec<&str> = self.set.files.iter().map(|f| f.path.as_str()).collect();
        for (f, path) in self.set.files.iter().zip(relative_paths(&paths)) {
            feed(&path, f.text.as_bytes());
        }
        for (path, bytes) in &self.referenced {
            feed(path, bytes);
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The files' paths without the directories they all share, `/`-separated:
/// `policies/bank/main.warden` and `policies/bank/keys/x.warden` become
/// `main.warden` and `keys/x.warden`, however the set's directory was
/// spelled (relative, absolute, `./`, a trailing `/`). The directories are
/// those of the file names as given, so the result does not depend on the
/// file system or on the current directory.
fn relative_paths(paths: &[&str]) -> Vec<String> {
    let split = |p: &str| -> Vec<String> {
        p.split(['/', '\\']).filter(|c| !c.is_empty() && *c != ".").map(str::to_owned).collect()
    };
    let parts: Vec<Vec<String>> = paths.iter().map(|p| split(p)).collect();
    // Only directories are shared: the last part of each path is its file name.
    let dirs = |p: &Vec<String>| p.len().saturating_sub(1);
    let mut shared = parts.iter().map(dirs).min().unwrap_or(0);
    if let Some(first) = parts.first() {
        for p in parts.iter().skip(1) {
            shared = shared.min(first.iter().zip(p).take_while(|(a, b)| a == b).count());
        }
    }
    parts.iter().map(|p| p.get(shared..).unwrap_or_default().join("/")).collect()
}
