//! Declarations and references: the symbol table of the set, declarations
//! made twice, and names that refer to nothing (with a "did you mean").

use std::collections::BTreeMap;

use warden_language::ast::*;
use warden_language::{Diagnostic, Span, edit_distance};

use super::Checker;
use crate::codes;

/// A declaration and the file it is in.
type Decl2<'a, T> = (usize, &'a T);

/// Every declaration by name, with its file (of two with one name, the first).
#[derive(Default)]
pub(super) struct Symbols<'a> {
    pub(super) zones: BTreeMap<&'a str, Decl2<'a, Zone>>,
    pub(super) limits: BTreeMap<&'a str, Decl2<'a, Limit>>,
    pub(super) bans: BTreeMap<&'a str, Decl2<'a, Ban>>,
    pub(super) schemas: BTreeMap<&'a str, Decl2<'a, Schema>>,
    pub(super) data: BTreeMap<&'a str, Decl2<'a, Data>>,
    pub(super) apis: BTreeMap<&'a str, Decl2<'a, Api>>,
    pub(super) resources: BTreeMap<&'a str, Decl2<'a, Resource>>,
    pub(super) exchanges: BTreeMap<&'a str, Decl2<'a, Exchange>>,
    pub(super) tests: BTreeMap<&'a str, Decl2<'a, Test>>,
}

impl<'a> Checker<'a> {
    /// Fills the symbol table, reporting names declared twice.
    pub(super) fn collect(&mut self) {
        let set = self.set;
        for (file, f) in set.files.iter().enumerate() {
            self.file = file;
            for decl in &f.parsed.file.decls {
                let (kind, name, span, first) = match decl {
                    Decl::Zone(d) => (
                        "zone",
                        d.name.name.as_str(),
                        d.name.span,
                        insert(&mut self.symbols.zones, &d.name.name, file, d),
                    ),
                    Decl::Limit(d) => (
                        "limit",
                        d.name.name.as_str(),
                        d.name.span,
                        insert(&mut self.symbols.limits, &d.name.name, file, d),
                    ),
                    Decl::Ban(d) => (
                        "ban",
                        d.name.name.as_str(),
                        d.name.span,
                        insert(&mut self.symbols.bans, &d.name.name, file, d),
                    ),
                    Decl::Schema(d) => (
                        "schema",
                        d.name.name.as_str(),
                        d.name.span,
                        insert(&mut self.symbols.schemas, &d.name.name, file, d),
                    ),
                    Decl::Data(d) => (
                        "data",
                        d.name.name.as_str(),
                        d.name.span,
                        insert(&mut self.symbols.data, &d.name.name, file, d),
                    ),
                    Decl::Api(d) => (
                        "api",
                        d.name.name.as_str(),
                        d.name.span,
                        insert(&mut self.symbols.apis, &d.name.name, file, d),
                    ),
                    Decl::Resource(d) => (
                        "resource",
                        d.name.name.as_str(),
                        d.name.span,
                        insert(&mut self.symbols.resources, &d.name.name, file, d),
                    ),
                    Decl::Exchange(d) => (
                        "exchange",
                        d.name.name.as_str(),
                        d.name.span,
                        insert(&mut self.symbols.exchanges, &d.name.name, file, d),
                    ),
                    Decl::Test(d) => (
                        "test",
                        d.name.value.as_str(),
                        d.name.span,
                        insert(&mut self.symbols.tests, &d.name.value, file, d),
                    ),
                };
                if let Some((first_file, first_start)) = first {
                    let at = set.location(first_file, first_start);
                    self.push(
                        Diagnostic::error(
                            codes::DUPLICATE_DECLARATION,
                            span,
                            format!("{kind} `{name}` is declared twice"),
                        )
                        .with_label("second declaration")
                        .with_help(format!("the first is at {at}; rename one of them")),
                    );
                }
                if matches!(decl, Decl::Schema(_)) && Builtin::parse(name).is_some() {
                    self.push(
                        Diagnostic::error(codes::DUPLICATE_DECLARATION, span, format!("`{name}` is a built-in type"))
                            .with_help("give the schema another name"),
                    );
                }
            }
        }
    }

    /// Reports a name that refers to nothing, suggesting a close one or listing those declared.
    pub(super) fn unknown(
        &mut self,
        code: warden_language::Code,
        kind: &str,
        name: &str,
        span: Span,
        known: Vec<&str>,
    ) {
        let close = known.iter().find(|k| edit_distance(k, name) <= 2);
        let help = match close {
            Some(k) => format!("did you mean `{k}`?"),
            None if known.is_empty() => format!("declare it: no {kind} is declared in this policy set"),
            None => format!("declared: {}", known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")),
        };
        self.push(
            Diagnostic::error(code, span, format!("unknown {kind} `{name}`"))
                .with_label(format!("no such {kind}"))
                .with_help(help),
        );
    }

    /// The zone a name refers to, or an unknown-zone error.
    pub(super) fn zone_ref(&mut self, zone: &Ident) -> Option<&'a Zone> {
        match self.symbols.zones.get(zone.name.as_str()) {
            Some(&(_, z)) => Some(z),
            None => {
                self.unknown(
                    codes::UNKNOWN_ZONE,
                    "zone",
                    &zone.name,
                    zone.span,
                    self.symbols.zones.keys().copied().collect(),
                );
                None
            }
        }
    }

    /// A policy test: the resources and actions its checks name exist.
    pub(super) fn test(&mut self, test: &'a Test) {
        self.steps(&test.steps);
    }

    fn steps(&mut self, steps: &'a [Step]) {
        for step in steps {
            match &step.node {
                StepKind::Check(check) => match self.symbols.resources.get(check.resource_type.name.as_str()) {
                    None => self.unknown(
                        codes::UNKNOWN_RESOURCE,
                        "resource",
                        &check.resource_type.name,
                        check.resource_type.span,
                        self.symbols.resources.keys().copied().collect(),
                    ),
                    Some(&(_, resource)) => {
                        let actions: Vec<&str> = resource
                            .items
                            .iter()
                            .filter_map(
                                |i| if let ResourceItem::Action(a) = i { Some(a.name.name.as_str()) } else { None },
                            )
                            .collect();
                        if !actions.contains(&check.action.name.as_str()) {
                            self.unknown(
                                codes::UNKNOWN_RESOURCE,
                                "action",
                                &check.action.name,
                                check.action.span,
                                actions,
                            );
                        }
                    }
                },
                StepKind::Repeat { steps, .. } => self.steps(steps),
                _ => {}
            }
        }
    }
}

/// Adds a declaration under its name; when the name is taken, nothing is
/// added and the first declaration's file and name offset are returned.
fn insert<'a, T>(
    map: &mut BTreeMap<&'a str, Decl2<'a, T>>,
    name: &'a str,
    file: usize,
    decl: &'a T,
) -> Option<(usize, usize)>
where
    T: Spanning,
{
    match map.get(name) {
        Some(&(first_file, first)) => Some((first_file, first.name_start())),
        None => {
            map.insert(name, (file, decl));
            None
        }
    }
}

/// Where a declaration's name starts, for "first declared at" messages.
trait Spanning {
    fn name_start(&self) -> usize;
}

macro_rules! spanning {
    ($($t:ty => $field:ident),*) => {
        $(impl Spanning for $t {
            fn name_start(&self) -> usize {
                self.$field.span.start()
            }
        })*
    };
}
spanning!(
    Zone => name, Limit => name, Ban => name, Schema => name, Data => name, Api => name, Resource => name, Exchange => name, Test => name
);
