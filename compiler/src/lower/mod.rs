//! Lowering: a checked policy set (ASTs plus referenced files) → the decision graph.
//!
//! Names are resolved to indexes and slots, expressions are folded and
//! interned (an identical sub-expression is stored once), and each route or
//! action becomes a flat list of steps in decision-table order. Lowering runs
//! only on a set without errors; where it still meets something unexpected it
//! skips it rather than panic.
//!
//! The steps live in their own modules: declarations that others refer to
//! (`decls`: zones, issuers, schemas, limits), endpoints and their steps
//! (`steps`), expressions with folding and interning (`exprs`), the route
//! trie (`trie`) and the revision hash (`revision`).

mod decls;
mod exprs;
mod revision;
mod steps;
mod trie;

use std::collections::{BTreeMap, HashMap};

use warden_language::ast::{Decl, Method, PathSegment};
use warden_language::{LineIndex, Span};

use self::exprs::Table;
pub use self::exprs::pre_auth_key;
use crate::graph::{DataDoc, ExprId, GRAPH_VERSION, Graph, Names, Origin, RouteIndex};
use crate::{Loader, PolicySet};

/// Default largest body (LANGUAGE.md: 1 MiB).
pub const DEFAULT_MAX_BODY: u64 = 1 << 20;
/// Default clock-skew allowance.
const DEFAULT_LEEWAY_MS: u64 = 30_000;
/// Default JWKS refresh period.
const DEFAULT_REFRESH_MS: u64 = 5 * 60_000;
/// How long an active introspection answer is kept when the policy says nothing.
const DEFAULT_INTROSPECT_CACHE_MS: u64 = 60_000;

/// How long past its `cache` a kept answer serves while the endpoint is down,
/// with `on_introspection_error stale` and no duration.
const DEFAULT_STALE_MS: u64 = 300_000;

/// Lowers a policy set that [`crate::diagnostics`] found no errors in.
pub fn lower(set: &PolicySet, loader: &dyn Loader) -> Graph {
    let mut l = Lowerer {
        set,
        loader,
        lines: set.files.iter().map(|f| LineIndex::new(&f.text)).collect(),
        file: 0,
        g: Graph {
            version: GRAPH_VERSION,
            revision: String::new(),
            sources: set.files.iter().map(|f| f.path.clone()).collect(),
            zones: Vec::new(),
            issuers: Vec::new(),
            limits: Vec::new(),
            bans: Vec::new(),
            schemas: Vec::new(),
            data: Vec::new(),
            credentials: Vec::new(),
            regexes: Vec::new(),
            cidrs: Vec::new(),
            names: Names::default(),
            exprs: Vec::new(),
            endpoints: Vec::new(),
            routes: RouteIndex::default(),
            resources: Vec::new(),
        },
        interned: HashMap::new(),
        zones: BTreeMap::new(),
        limits: BTreeMap::new(),
        bans: BTreeMap::new(),
        schemas: BTreeMap::new(),
        data: BTreeMap::new(),
        credentials: HashMap::new(),
        referenced: BTreeMap::new(),
        pending: Vec::new(),
        tables: HashMap::new(),
    };
    l.run();
    l.g
}

/// The state of one lowering: the graph being built and where each name,
/// file and string already stands in it.
struct Lowerer<'a> {
    set: &'a PolicySet,
    loader: &'a dyn Loader,
    lines: Vec<LineIndex>,
    file: usize,
    g: Graph,
    interned: HashMap<String, ExprId>,
    zones: BTreeMap<&'a str, u32>,
    limits: BTreeMap<&'a str, u32>,
    bans: BTreeMap<&'a str, u32>,
    schemas: BTreeMap<&'a str, u32>,
    data: BTreeMap<&'a str, u32>,
    credentials: HashMap<String, u32>,
    /// Referenced files and their bytes, for the revision.
    referenced: BTreeMap<String, Vec<u8>>,
    /// Routes for the index: host, full segments, method, endpoint.
    pending: Vec<(Option<String>, Vec<PathSegment>, Method, u32)>,
    /// Where each string already stands in its table.
    tables: HashMap<(Table, String), u32>,
}

/// What an expression may refer to.
#[derive(Clone, Copy)]
struct Scope<'s> {
    params: &'s [String],
}

impl<'a> Lowerer<'a> {
    fn decls(&self) -> impl Iterator<Item = (usize, &'a Decl)> + use<'a> {
        let set: &'a PolicySet = self.set;
        set.files.iter().enumerate().flat_map(|(i, f)| f.parsed.file.decls.iter().map(move |d| (i, d)))
    }

    /// Where `span` of the file being lowered is.
    fn origin(&self, span: Span) -> Origin {
        let (line, column) = match (self.lines.get(self.file), self.set.files.get(self.file)) {
            (Some(index), Some(f)) => {
                let pos = index.line_col(&f.text, span.start());
                (pos.line, pos.column)
            }
            _ => (0, 0),
        };
        Origin {
            source: u32::try_from(self.file).unwrap_or(u32::MAX),
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
            span: [span.start, span.end],
        }
    }

    /// A referenced JSON file (`null` when unreadable, which the checker has refused), kept for the revision.
    fn read_json(&mut self, path: &str) -> serde_json::Value {
        let bytes = self.loader.read(path).unwrap_or_default();
        let value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        self.referenced.insert(path.to_owned(), bytes);
        sorted(value)
    }

    /// The passes: what others refer to first, then schemas and limits, then
    /// endpoints, the route index, the limits' fingerprints and the revision.
    fn run(&mut self) {
        // Declarations that others refer to get their indexes first.
        for (file, decl) in self.decls() {
            self.file = file;
            match decl {
                Decl::Zone(z) => self.zone(z),
                Decl::Schema(s) => {
                    let id = len_u32(&self.schemas);
                    self.schemas.insert(&s.name.name, id);
                }
                Decl::Data(d) => {
                    let value = self.read_json(&d.path.value);
                    let id = len_u32(&self.g.data);
                    self.data.insert(&d.name.name, id);
                    self.g.data.push(DataDoc { name: d.name.name.clone(), path: d.path.value.clone(), value });
                }
                _ => {}
            }
        }
        for (file, decl) in self.decls() {
            self.file = file;
            match decl {
                Decl::Schema(s) => {
                    let schema = self.schema(s);
                    self.g.schemas.push(schema);
                }
                Decl::Limit(limit) => self.limit(limit),
                Decl::Ban(ban) => self.ban(ban),
                _ => {}
            }
        }
        for (file, decl) in self.decls() {
            self.file = file;
            match decl {
                Decl::Api(api) => self.api(api),
                Decl::Resource(resource) => self.resource(resource),
                Decl::Exchange(exchange) => self.exchange(exchange),
                _ => {}
            }
        }
        self.route_index();
        self.enforce_bans();
        let prints: Vec<String> = self.g.limits.iter().map(|l| crate::fingerprint::limit(&self.g, l)).collect();
        for (l, print) in self.g.limits.iter_mut().zip(prints) {
            l.fingerprint = print;
        }
        let prints: Vec<String> = self.g.bans.iter().map(|b| crate::fingerprint::ban(&self.g, b)).collect();
        for (b, print) in self.g.bans.iter_mut().zip(prints) {
            b.fingerprint = print;
        }
        self.g.revision = self.revision();
    }
}

fn len_u32<T>(items: &(impl Len<T> + ?Sized)) -> u32 {
    u32::try_from(items.count()).unwrap_or(u32::MAX)
}

/// Anything with a length (vectors and maps), for index allocation.
trait Len<T> {
    fn count(&self) -> usize;
}

impl<T> Len<T> for Vec<T> {
    fn count(&self) -> usize {
        self.len()
    }
}

impl<K, V> Len<(K, V)> for BTreeMap<K, V> {
    fn count(&self) -> usize {
        self.len()
    }
}

/// The value with every object's keys in sorted order, so the graph is the same
/// whether or not serde_json keeps insertion order (a feature another crate in
/// the build may switch on).
fn sorted(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<(String, serde_json::Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        serde_json::Value::Array(items) => serde_json::Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}
