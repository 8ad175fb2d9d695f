//! Lint levels a policy set chooses for itself (`[lints]` in the `warden.toml` at
//! its root, read by `warden-project`): each lint `off`, `warn` (the default) or
//! `error`, named by code or by name.

use warden_language::{Code, Severity};

use super::ALL;
use crate::FileDiagnostic;

/// What a lint does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Not reported.
    Off,
    /// A warning (the default).
    Warn,
    /// An error: `warden lint` fails on it.
    Error,
}

/// Lints that report what is exposed rather than what is wrong: off unless a
/// set turns them on (`warden analyze` always reports them).
pub const OFF_BY_DEFAULT: &[&str] = &["W0317", "W0318"];

/// The level of each lint a set changed from the default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Levels(Vec<(Code, Level)>);

impl Levels {
    /// Sets the level of the lint `key` (a code such as `W0305`, or a name such
    /// as `body-without-schema`) to `level` (`off`, `warn` or `error`).
    pub fn set(&mut self, key: &str, level: &str) -> Result<(), String> {
        let lint = ALL.iter().find(|l| l.code.as_str() == key || l.name == key).ok_or_else(|| {
            format!("`{key}` is no lint (a code such as `W0305` or a name such as `body-without-schema`)")
        })?;
        let level = match level {
            "off" => Level::Off,
            "warn" => Level::Warn,
            "error" => Level::Error,
            other => return Err(format!("`{other}` is no lint level (`off`, `warn` or `error`)")),
        };
        self.0.retain(|(code, _)| *code != lint.code);
        self.0.push((lint.code, level));
        Ok(())
    }

    /// The level of the lint with `code`: the set's, else the lint's default.
    pub fn of(&self, code: &str) -> Level {
        self.0
            .iter()
            .find(|(c, _)| c.as_str() == code)
            .map_or_else(|| if OFF_BY_DEFAULT.contains(&code) { Level::Off } else { Level::Warn }, |(_, level)| *level)
    }

    /// The same levels, with the lints that are off by default turned on
    /// where the set did not choose (what `warden analyze` reports).
    #[must_use]
    pub fn with_exposure(mut self) -> Levels {
        for code in OFF_BY_DEFAULT {
            if !self.0.iter().any(|(c, _)| c.as_str() == *code) {
                self.0.push((Code(code), Level::Warn));
            }
        }
        self
    }

    /// Drops the lints that are off.
    pub(super) fn drop_off(&self, out: &mut Vec<FileDiagnostic>) {
        out.retain(|d| d.diagnostic.is_error() || self.of(d.diagnostic.code.as_str()) != Level::Off);
    }

    /// Drops the lints that are off and makes errors of those that are `error`.
    pub(super) fn apply(&self, out: &mut Vec<FileDiagnostic>) {
        self.drop_off(out);
        for d in out.iter_mut() {
            if self.of(d.diagnostic.code.as_str()) == Level::Error {
                d.diagnostic.severity = Severity::Error;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_set_by_code_or_name_and_checked() {
        let mut levels = Levels::default();
        assert_eq!(levels.set("W0305", "off"), Ok(()));
        assert_eq!(levels.set("unused-declaration", "error"), Ok(()));
        assert_eq!(
            (levels.of("W0305"), levels.of("W0309"), levels.of("W0310")),
            (Level::Off, Level::Error, Level::Warn)
        );
        // The last word wins.
        assert_eq!(levels.set("body-without-schema", "warn"), Ok(()));
        assert_eq!(levels.of("W0305"), Level::Warn);
        assert!(levels.set("W9999", "off").unwrap_err().contains("`W9999` is no lint"));
        assert!(levels.set("E0202", "off").unwrap_err().contains("`E0202` is no lint"));
        assert!(levels.set("W0305", "deny").unwrap_err().contains("`deny` is no lint level"));
    }
}
