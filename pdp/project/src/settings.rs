//! A policy set's own settings: the `warden.toml` at its root. Today it holds
//! `[lints]`, the level of each lint (`off`, `warn` or `error`, by code or name),
//! which `warden lint` and the language server apply.

use std::path::{Path, PathBuf};

use warden_compiler::lints::Levels;
use warden_language::LineIndex;

/// The settings file's name, at the root of a set.
pub const SETTINGS_FILE: &str = "warden.toml";

/// The largest settings file read.
const MAX_SETTINGS_BYTES: u64 = 1 << 20;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default)]
    lints: std::collections::BTreeMap<toml::Spanned<String>, toml::Spanned<String>>,
}

/// The lint levels of the set at `dir` (the defaults when it has no
/// `warden.toml`). The error names the file, line and column at fault.
pub fn lint_levels(dir: &Path) -> Result<Levels, String> {
    let path: PathBuf = dir.join(SETTINGS_FILE);
    if !dir.is_dir() || !path.is_file() {
        return Ok(Levels::default());
    }
    let too_large = std::fs::metadata(&path).is_ok_and(|m| m.len() > MAX_SETTINGS_BYTES);
    if too_large {
        return Err(format!("`{}` is larger than {MAX_SETTINGS_BYTES} bytes", path.display()));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let at = |offset: usize| {
        let lc = LineIndex::new(&text).line_col(&text, offset);
        format!("{}:{}:{}", path.display(), lc.line, lc.column)
    };
    let settings: Settings = toml::from_str(&text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        format!("{}: {}", at(offset), e.message())
    })?;
    let mut levels = Levels::default();
    // A lint named twice (by its code and by its name) would leave which
    // level holds to the table's order: refused, so the file says one thing.
    let mut named: Vec<(&str, &str)> = Vec::new();
    for (key, level) in &settings.lints {
        let lint =
            warden_compiler::lints::ALL.iter().find(|l| l.code.as_str() == key.get_ref() || l.name == key.get_ref());
        if let Some(lint) = lint {
            if let Some((_, first)) = named.iter().find(|(code, _)| *code == lint.code.as_str()) {
                return Err(format!(
                    "{}: `{}` and `{first}` name the same lint ({} `{}`): keep one",
                    at(key.span().start),
                    key.get_ref(),
                    lint.code.as_str(),
                    lint.name
                ));
            }
            named.push((lint.code.as_str(), key.get_ref()));
        }
        levels.set(key.get_ref(), level.get_ref()).map_err(|why| {
            let offset = if why.contains("no lint level") { level.span().start } else { key.span().start };
            format!("{}: {why}", at(offset))
        })?;
    }
    Ok(levels)
}

#[cfg(test)]
mod tests {
    use warden_compiler::lints::Level;

    use super::*;

    #[test]
    fn levels_come_from_the_sets_warden_toml_and_errors_name_the_place() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(lint_levels(dir.path()), Ok(Levels::default()));
        let file = dir.path().join(SETTINGS_FILE);
        std::fs::write(&file, "[lints]\nW0305 = \"off\"\nunused-declaration = \"error\"\n").unwrap();
        let levels = lint_levels(dir.path()).unwrap();
        assert_eq!((levels.of("W0305"), levels.of("W0309")), (Level::Off, Level::Error));
        let shown = file.display();
        for (text, want) in [
            ("[lints]\nW0305 = \"off\"\nW9999 = \"off\"\n", format!("{shown}:3:1: `W9999` is no lint")),
            ("[lints]\nW0305 = \"loud\"\n", format!("{shown}:2:9: `loud` is no lint level")),
            ("[lint]\nW0305 = \"off\"\n", format!("{shown}:1:2: unknown field `lint`")),
            ("[lints]\nW0305 = off\n", format!("{shown}:2:9:")),
            (
                "[lints]\nbody-without-schema = \"error\"\nW0305 = \"off\"\n",
                format!(
                    "{shown}:2:1: `body-without-schema` and `W0305` name the same lint (W0305 `body-without-schema`)"
                ),
            ),
        ] {
            std::fs::write(&file, text).unwrap();
            let err = lint_levels(dir.path()).unwrap_err();
            assert!(err.starts_with(&want), "{text:?}: {err}");
        }
    }
}
