//! The route index: every route's host, full path segments and method put
//! into one trie per host (literal children sorted for binary search).

use std::collections::BTreeMap;

use warden_language::ast::{Method, PathSegment};

use super::{Lowerer, len_u32};
use crate::graph::{HostRoutes, MethodEndpoint, RouteIndex, TrieNode};

impl Lowerer<'_> {
    /// Builds the route trie of every host from the routes queued by `api`.
    pub(super) fn route_index(&mut self) {
        let mut roots: BTreeMap<Option<String>, u32> = BTreeMap::new();
        let mut nodes: Vec<TrieNode> = Vec::new();
        let pending = std::mem::take(&mut self.pending);
        for (host, segments, method, endpoint) in pending {
            let root = *roots.entry(host).or_insert_with(|| {
                nodes.push(TrieNode::default());
                len_u32(&nodes) - 1
            });
            let mut at = root;
            let mut tail = false;
            for seg in &segments {
                let next = match seg {
                    PathSegment::Literal(lit) => {
                        let existing = nodes.get(at as usize).and_then(|n| {
                            let i = n.literals.binary_search_by(|(l, _)| l.as_str().cmp(lit)).ok()?;
                            n.literals.get(i).map(|(_, c)| *c)
                        });
                        match existing {
                            Some(c) => c,
                            None => {
                                nodes.push(TrieNode::default());
                                let c = len_u32(&nodes) - 1;
                                if let Some(n) = nodes.get_mut(at as usize) {
                                    let pos = n.literals.partition_point(|(l, _)| l < lit);
                                    n.literals.insert(pos, (lit.clone(), c));
                                }
                                c
                            }
                        }
                    }
                    PathSegment::Param(_) => match nodes.get(at as usize).and_then(|n| n.param) {
                        Some(c) => c,
                        None => {
                            nodes.push(TrieNode::default());
                            let c = len_u32(&nodes) - 1;
                            if let Some(n) = nodes.get_mut(at as usize) {
                                n.param = Some(c);
                            }
                            c
                        }
                    },
                    PathSegment::Tail(_) => {
                        tail = true;
                        break;
                    }
                };
                at = next;
            }
            if let Some(n) = nodes.get_mut(at as usize) {
                let list = if tail { &mut n.tail } else { &mut n.methods };
                list.push(MethodEndpoint { method, endpoint });
                // Exact methods before `ANY`.
                list.sort_by_key(|m| (m.method == Method::Any, m.method));
            }
        }
        // Hosts with their own routes first, then the any-host trie.
        let mut hosts: Vec<HostRoutes> =
            roots.iter().filter(|(h, _)| h.is_some()).map(|(h, r)| HostRoutes { host: h.clone(), root: *r }).collect();
        if let Some(&r) = roots.get(&None) {
            hosts.push(HostRoutes { host: None, root: r });
        }
        self.g.routes = RouteIndex { hosts, nodes, ..RouteIndex::default() };
        self.g.routes.index_wide_nodes();
    }
}
