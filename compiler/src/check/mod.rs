//! Whole-set semantic checks: the driver and the state the checks share.
//!
//! One `Checker` walks every declaration of every file in order; each
//! concern lives in its own module: declarations and references
//! (`symbols`), referenced files (`files`), regexes, CIDRs, globs and URLs
//! (`literals`), zones and issuers (`zones`), schemas (`schemas`), apis
//! and resources (`apis`), minted tokens (`mint`), endpoints that can never allow or lack `auth`
//! (`reach`), attribute and type checks of expressions (`exprs`), and
//! route conflicts across apis (`routes`). Diagnostics come out in the
//! order the walk meets them.

mod apis;
mod exprs;
mod files;
mod literals;
mod mint;
mod reach;
pub(crate) mod routes;
mod schemas;
mod symbols;
mod zones;

use std::collections::HashSet;

use warden_language::Diagnostic;
use warden_language::ast::Decl;

use self::exprs::Place;
pub use self::literals::{REGEX_DFA_SIZE_LIMIT, REGEX_SIZE_LIMIT, build_regex};
use self::symbols::Symbols;
use crate::{FileDiagnostic, Loader, PolicySet};

/// Runs every whole-set check. Assumes every file parsed without errors.
pub fn check(set: &PolicySet, loader: &dyn Loader) -> Vec<FileDiagnostic> {
    let mut c = Checker { set, loader, out: Vec::new(), file: 0, symbols: Symbols::default(), loaded: HashSet::new() };
    c.collect();
    for (file, f) in set.files.iter().enumerate() {
        c.file = file;
        for decl in &f.parsed.file.decls {
            c.decl(decl);
        }
    }
    c.route_conflicts();
    c.exchange_targets();
    c.out
}

/// The state of one run: the set, its declarations by name, the files read
/// so far and the diagnostics found, each tied to the file being walked.
struct Checker<'a> {
    set: &'a PolicySet,
    loader: &'a dyn Loader,
    out: Vec<FileDiagnostic>,
    file: usize,
    symbols: Symbols<'a>,
    /// Referenced files already checked (each is reported once).
    loaded: HashSet<(String, &'static str)>,
}

impl<'a> Checker<'a> {
    /// Adds a diagnostic in the file being walked.
    fn push(&mut self, diagnostic: Diagnostic) {
        self.out.push(FileDiagnostic { file: self.file, diagnostic });
    }

    /// Checks one declaration of the file being walked.
    fn decl(&mut self, decl: &'a Decl) {
        match decl {
            Decl::Zone(z) => self.zone(z),
            Decl::Limit(l) => {
                for key in &l.keys {
                    self.expr(key, Place::LimitKey);
                }
            }
            Decl::Ban(b) => {
                if let Some(d) = &b.distinct {
                    self.expr(d, Place::BanValue);
                }
                // A ban may be keyed by the body (an account): checked once it is read.
                for key in &b.keys {
                    self.expr(key, Place::BanValue);
                }
                for cidr in &b.except {
                    self.cidr(cidr);
                }
            }
            Decl::Schema(s) => self.schema(s),
            Decl::Data(d) => self.json_file(&d.path, "data", |_| Ok(())),
            Decl::Api(a) => self.api(a),
            Decl::Resource(r) => self.resource(r),
            Decl::Exchange(x) => self.exchange(x),
            Decl::Test(t) => self.test(t),
        }
    }
}
