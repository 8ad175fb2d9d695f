//! The route index: a trie per host of path segments, then methods, and the
//! lookup that finds a request's endpoint in it.

use std::borrow::Cow;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use super::Method;

/// Routes by host, then path segments (a trie), then method.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteIndex {
    /// Hosts with their own routes first (sorted), then `None`: apis without a host.
    pub hosts: Vec<HostRoutes>,
    /// Trie nodes; `HostRoutes::root` and children index here.
    pub nodes: Vec<TrieNode>,
    /// The named hosts hashed, when there are many (see
    /// [`RouteIndex::index_wide_nodes`]). Derived, so never written out.
    #[serde(skip)]
    pub wide_hosts: WideIndex,
}

/// The trie of one host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostRoutes {
    /// Lower-case host, or `None` for any host.
    pub host: Option<String>,
    /// Root node.
    pub root: u32,
}

/// One path position. Lookup tries the literal child, then the parameter
/// child, then the tail routes (most specific first), backtracking on a miss.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrieNode {
    /// Literal segments, sorted, for binary search.
    pub literals: Vec<(String, u32)>,
    /// The same literals hashed, at nodes with many of them (see
    /// [`RouteIndex::index_wide_nodes`]): lookup cost stays flat however many
    /// routes fan out here. Derived, so never written out.
    #[serde(skip)]
    pub wide: WideIndex,
    /// `{param}` child.
    pub param: Option<u32>,
    /// Routes ending here.
    pub methods: Vec<MethodEndpoint>,
    /// Routes with a `{*tail}` here (matching one or more remaining segments).
    pub tail: Vec<MethodEndpoint>,
}

/// A method and the endpoint it leads to (`ANY` last).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodEndpoint {
    /// Method (`ANY` matches all).
    pub method: Method,
    /// Endpoint index.
    pub endpoint: u32,
}

/// What a route lookup found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteMatch {
    /// The endpoint and the path parameter values, in the endpoint's `params` order.
    Found {
        /// Endpoint index.
        endpoint: u32,
        /// Where each parameter's value lies among the asked segments: one
        /// segment for `{name}`, the rest of the path for a tail. See
        /// [`param_value`].
        params: ParamSpans,
    },
    /// Some route has this path, none this method (405).
    MethodNotAllowed,
    /// No route has this path (404).
    NotFound,
}

/// Where a lookup's path parameters lie among the segments it was asked
/// (inline for routes of up to six parameters: a lookup copies no text).
pub type ParamSpans = SmallVec<[Range<usize>; 6]>;

/// A parameter's value: its one segment, borrowed, or a tail's segments
/// joined by `/` (empty for a span outside `segments`).
pub fn param_value<S: AsRef<str>>(segments: &[S], span: Range<usize>) -> Cow<'_, str> {
    match segments.get(span) {
        Some([one]) => Cow::Borrowed(one.as_ref()),
        Some(many) => Cow::Owned(join(many)),
        None => Cow::Borrowed(""),
    }
}

/// Literal children (or named hosts) by name, when there are at least [`WIDE`] of them. Equal
/// to any other: it is derived from `literals`, which the comparison covers.
#[derive(Clone, Debug, Default)]
pub struct WideIndex(Option<std::collections::HashMap<Box<str>, u32>>);

impl PartialEq for WideIndex {
    fn eq(&self, _: &WideIndex) -> bool {
        true
    }
}

impl Eq for WideIndex {}

/// Nodes with this many literal children or more (and this many named hosts
/// or more) are hashed: below it, a binary search is as fast.
const WIDE: usize = 16;

impl RouteIndex {
    /// Hashes the literal children of every node with at least [`WIDE`] of
    /// them (the compiler does it; a graph read back from JSON needs it done
    /// again, as the engine does when it prepares one).
    pub fn index_wide_nodes(&mut self) {
        let named = self.hosts.iter().filter(|h| h.host.is_some()).count();
        self.wide_hosts = WideIndex((named >= WIDE).then(|| {
            (0u32..).zip(&self.hosts).filter_map(|(i, h)| h.host.as_deref().map(|name| (name.into(), i))).collect()
        }));
        for n in &mut self.nodes {
            n.wide = WideIndex(
                (n.literals.len() >= WIDE)
                    .then(|| n.literals.iter().map(|(name, child)| (name.as_str().into(), *child)).collect()),
            );
        }
    }

    /// Finds the route for a host, method and decoded path segments. The
    /// host's own routes are tried before those of apis without a host;
    /// within a trie, literal beats parameter beats tail. Cost grows with
    /// the number of segments, not the number of routes, and with the
    /// logarithm of the number of hosts (a binary search of the sorted,
    /// lower-case host names).
    pub fn lookup<S: AsRef<str>>(&self, host: &str, method: Method, segments: &[S]) -> RouteMatch {
        let named = self.hosts.partition_point(|h| h.host.is_some());
        let (own, any) = self.hosts.split_at(named);
        let found = match &self.wide_hosts.0 {
            // Stored names are lower case: the hash holds them as they are.
            Some(index) if !host.bytes().any(|b| b.is_ascii_uppercase()) => index.get(host).map(|&i| i as usize),
            _ => own
                .binary_search_by(|h| {
                    // The asked host is compared as if it were lower case.
                    let name = h.host.as_deref().unwrap_or("");
                    name.bytes().cmp(host.bytes().map(|b| b.to_ascii_lowercase()))
                })
                .ok(),
        };
        let mine = found.and_then(|i| own.get(i));
        let mut path_matched = false;
        for h in mine.into_iter().chain(any) {
            match self.walk(h.root, method, segments) {
                RouteMatch::Found { endpoint, params } => return RouteMatch::Found { endpoint, params },
                RouteMatch::MethodNotAllowed => path_matched = true,
                RouteMatch::NotFound => {}
            }
        }
        if path_matched { RouteMatch::MethodNotAllowed } else { RouteMatch::NotFound }
    }

    fn walk<S: AsRef<str>>(&self, root: u32, method: Method, segments: &[S]) -> RouteMatch {
        // Depth-first, most specific child first; the stack holds (node, depth,
        // next alternative to try: 0 literal, 1 param, 2 tail, 3 done), at most
        // one entry per depth: on the stack itself for the usual path lengths.
        let mut inline = [(0u32, 0usize, 0u8); INLINE_DEPTH];
        let mut heap = Vec::new();
        let buf: &mut [(u32, usize, u8)] = if segments.len() < INLINE_DEPTH {
            &mut inline
        } else {
            heap.resize(segments.len() + 1, (0, 0, 0));
            &mut heap
        };
        let mut stack = Stack { buf, len: 0 };
        stack.push((root, 0, 0));
        let mut params = ParamSpans::new();
        let mut path_matched = false;
        let pick = |list: &[MethodEndpoint]| {
            list.iter().find(|m| m.method == method || m.method == Method::Any).map(|m| m.endpoint)
        };
        while let Some(top) = stack.last_mut() {
            let (node_id, depth, alt) = *top;
            let Some(node) = self.nodes.get(node_id as usize) else { return RouteMatch::NotFound };
            top.2 += 1;
            match alt {
                0 if depth == segments.len() => {
                    if !node.methods.is_empty() {
                        path_matched = true;
                        if let Some(endpoint) = pick(&node.methods) {
                            return RouteMatch::Found { endpoint, params };
                        }
                    }
                }
                0 => {
                    let seg = segments.get(depth).map_or("", AsRef::as_ref);
                    let child = match &node.wide.0 {
                        Some(index) => index.get(seg).copied(),
                        None => node
                            .literals
                            .binary_search_by(|(l, _)| l.as_str().cmp(seg))
                            .ok()
                            .and_then(|i| node.literals.get(i))
                            .map(|&(_, child)| child),
                    };
                    if let Some(child) = child {
                        stack.push((child, depth + 1, 0));
                    }
                }
                // A parameter never matches an empty segment.
                1 if segments.get(depth).is_some_and(|s| !s.as_ref().is_empty()) => {
                    if let Some(child) = node.param {
                        params.push(depth..depth + 1);
                        stack.push((child, depth + 1, 0));
                    }
                }
                2 if depth < segments.len()
                    && !node.tail.is_empty()
                    && segments.get(depth..).is_some_and(|r| r.iter().any(|s| !s.as_ref().is_empty())) =>
                {
                    path_matched = true;
                    if let Some(endpoint) = pick(&node.tail) {
                        params.push(depth..segments.len());
                        return RouteMatch::Found { endpoint, params };
                    }
                }
                1 | 2 => {}
                _ => {
                    stack.pop();
                    // Leaving a node entered through its parent's param edge drops that value.
                    if let Some(&(parent, _, parent_alt)) = stack.last()
                        && parent_alt == 2
                        && self.nodes.get(parent as usize).and_then(|p| p.param) == Some(node_id)
                    {
                        params.pop();
                    }
                }
            }
        }
        if path_matched { RouteMatch::MethodNotAllowed } else { RouteMatch::NotFound }
    }
}

/// `segments` joined by `/` (a tail parameter's value).
fn join<S: AsRef<str>>(segments: &[S]) -> String {
    let mut out = String::new();
    for (i, s) in segments.iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(s.as_ref());
    }
    out
}

/// Paths of fewer segments than this are walked with a stack on the stack.
const INLINE_DEPTH: usize = 16;

/// The walk's stack over a buffer of one entry per depth (the walk never holds
/// two entries of one depth, so `segments + 1` entries always suffice).
struct Stack<'b> {
    buf: &'b mut [(u32, usize, u8)],
    len: usize,
}

impl Stack<'_> {
    fn push(&mut self, entry: (u32, usize, u8)) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = entry;
            self.len += 1;
        }
    }

    fn pop(&mut self) {
        self.len = self.len.saturating_sub(1);
    }

    fn last(&self) -> Option<&(u32, usize, u8)> {
        self.len.checked_sub(1).and_then(|i| self.buf.get(i))
    }

    fn last_mut(&mut self) -> Option<&mut (u32, usize, u8)> {
        self.len.checked_sub(1).and_then(|i| self.buf.get_mut(i))
    }
}
