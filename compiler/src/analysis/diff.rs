//! What a change does to access: the difference of two access matrices, as
//! changes that let someone in who was not (gains), keep someone out who was
//! let in (loses), or neither (other). Conservative: a condition that changed
//! is a rule removed and a rule added, so it counts as both; a credential
//! table whose entries changed counts as a gain.

use serde::Serialize;

use super::{Access, Credential, IssuerRef, LimitDef, Matrix, Reach, cell, reach_word, short};

/// The changes from one matrix to another.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diff {
    /// The old revision.
    pub old_revision: String,
    /// The new revision.
    pub new_revision: String,
    /// Every change, by endpoint (then limits), gains first.
    pub changes: Vec<Change>,
}

/// One change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The endpoint (or `limit NAME`).
    pub subject: String,
    /// Its zone (empty for a limit).
    pub zone: String,
    /// Who gains or loses.
    pub direction: Direction,
    /// What changed, in words.
    pub what: String,
}

/// Which way a change moves access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Someone can do what they could not.
    Gains,
    /// Someone can no longer do what they could.
    Loses,
    /// Neither (a body schema, an endpoint that allows nothing).
    Other,
}

impl Diff {
    /// Whether anyone gains access.
    pub fn widens(&self) -> bool {
        self.changes.iter().any(|c| c.direction == Direction::Gains)
    }

    fn count(&self, d: Direction) -> usize {
        self.changes.iter().filter(|c| c.direction == d).count()
    }
}

/// The changes from `old` to `new`.
pub fn diff(old: &Matrix, new: &Matrix) -> Diff {
    let mut changes = Vec::new();
    for n in &new.endpoints {
        match old.endpoints.iter().find(|o| o.endpoint == n.endpoint) {
            Some(o) => endpoint(o, n, &mut changes),
            None if n.reach == Reach::Never => {
                push(&mut changes, n, Direction::Other, "new, and never allowed".to_owned())
            }
            None => push(&mut changes, n, Direction::Gains, format!("new: {}, {}", n.who(), reach_word(n.reach))),
        }
    }
    for o in &old.endpoints {
        if !new.endpoints.iter().any(|n| n.endpoint == o.endpoint) && o.reach != Reach::Never {
            push(&mut changes, o, Direction::Loses, format!("removed (was: {})", o.who()));
        }
    }
    for n in &new.limits {
        if let Some(o) = old.limits.iter().find(|o| o.name == n.name) {
            limit(o, n, &mut changes);
        }
    }
    // Stable: by direction, then in the order found.
    changes.sort_by_key(|c| c.direction);
    Diff { old_revision: old.revision.clone(), new_revision: new.revision.clone(), changes }
}

fn push(out: &mut Vec<Change>, a: &Access, direction: Direction, what: String) {
    out.push(Change { subject: a.endpoint.clone(), zone: a.zone.clone(), direction, what });
}

fn endpoint(o: &Access, n: &Access, out: &mut Vec<Change>) {
    let mut add = |d: Direction, what: String| push(out, n, d, what);
    credential(&o.credential, &n.credential, &mut add);
    if let (Some(os), Some(ns)) = (&o.subject_issuers, &n.subject_issuers) {
        issuers(os, ns, "subject tokens", &mut add);
    }
    for s in o.scopes.iter().filter(|s| !n.scopes.contains(s)) {
        add(Direction::Gains, format!("no longer requires scope `{s}`"));
    }
    for s in n.scopes.iter().filter(|s| !o.scopes.contains(s)) {
        add(Direction::Loses, format!("now requires scope `{s}`"));
    }
    for g in o.scopes_any_of.iter().filter(|g| !n.scopes_any_of.contains(g)) {
        add(Direction::Gains, format!("no longer requires one of scope {}", g.join(" | ")));
    }
    for g in n.scopes_any_of.iter().filter(|g| !o.scopes_any_of.contains(g)) {
        add(Direction::Loses, format!("now requires one of scope {}", g.join(" | ")));
    }
    if o.tls && !n.tls {
        add(Direction::Gains, "no longer requires TLS".to_owned());
    } else if !o.tls && n.tls {
        add(Direction::Loses, "now requires TLS".to_owned());
    }
    match (&o.mtls_peers, &n.mtls_peers) {
        (Some(_), None) => add(Direction::Gains, "no longer requires mTLS".to_owned()),
        (None, Some(_)) => add(Direction::Loses, "now requires mTLS".to_owned()),
        (Some(op), Some(np)) if !op.is_empty() && np.is_empty() => {
            add(Direction::Gains, "admits any client certificate of the CA (was: named peers)".to_owned());
        }
        (Some(op), Some(np)) => {
            for p in np.iter().filter(|p| !op.contains(p)) {
                add(Direction::Gains, format!("admits mTLS peer `{p}`"));
            }
            for p in op.iter().filter(|p| !np.contains(p)) {
                add(Direction::Loses, format!("no longer admits mTLS peer `{p}`"));
            }
        }
        (None, None) => {}
    }
    match (o.networks.is_empty(), n.networks.is_empty()) {
        (false, true) => add(Direction::Gains, format!("reachable from any address (was: {})", o.networks.join(", "))),
        (true, false) => add(Direction::Loses, format!("now only from {}", n.networks.join(", "))),
        _ => {
            // A range inside one the other side has is no change of who.
            for r in n.networks.iter().filter(|r| !within(r, &o.networks)) {
                add(Direction::Gains, format!("reachable from `{r}`"));
            }
            for r in o.networks.iter().filter(|r| !within(r, &n.networks)) {
                add(Direction::Loses, format!("no longer reachable from `{r}`"));
            }
        }
    }
    for l in o.limits.iter().filter(|l| !n.limits.contains(l)) {
        add(Direction::Gains, format!("no longer counted by limit {l}"));
    }
    for l in n.limits.iter().filter(|l| !o.limits.contains(l)) {
        add(Direction::Loses, format!("now counted by limit {l}"));
    }
    if o.body != n.body {
        add(Direction::Other, format!("body: {} (was: {})", n.body, o.body));
    }
    // What the rules read: an allowlist that changed lets others in.
    for (name, d) in &n.data {
        if o.data.get(name).is_some_and(|old| old != d) {
            add(Direction::Gains, format!("data `{name}`, which its rules read, changed"));
        }
    }
    if o.mint != n.mint && n.mint.is_some() {
        let was = o.mint.as_deref().unwrap_or("none");
        add(Direction::Gains, format!("the token it mints changed: {} (was: {was})", n.mint.as_deref().unwrap_or("")));
    }
    for (name, def) in &o.bans {
        match n.bans.get(name) {
            None => add(Direction::Gains, format!("no longer bans by `{name}`")),
            Some(new) if new != def => add(Direction::Gains, format!("ban `{name}` is now {new} (was: {def})")),
            Some(_) => {}
        }
    }
    for name in n.bans.keys().filter(|b| !o.bans.contains_key(*b)) {
        add(Direction::Loses, format!("now bans by `{name}`"));
    }
    for h in n.upstream.iter().filter(|h| !o.upstream.contains(h)) {
        add(Direction::Gains, format!("upstream header {h}"));
    }
    for h in o.upstream.iter().filter(|h| !n.upstream.contains(h)) {
        add(Direction::Other, format!("upstream header no longer {h}"));
    }
    if o.reach == Reach::Never && n.reach != Reach::Never {
        add(Direction::Gains, format!("can now be allowed ({})", reach_word(n.reach)));
    } else if o.reach != Reach::Never && n.reach == Reach::Never {
        add(Direction::Loses, "can no longer be allowed".to_owned());
    }
    let text = |w: &Option<String>| w.clone().unwrap_or_else(|| "(unconditional)".to_owned());
    for r in n.allow.iter().filter(|r| !o.allow.iter().any(|x| x.when == r.when)) {
        add(Direction::Gains, format!("new rule: allow{} ({})", when(&r.when), r.at));
    }
    for r in o.allow.iter().filter(|r| !n.allow.iter().any(|x| x.when == r.when)) {
        add(Direction::Loses, format!("rule removed: allow{} (was {})", when(&r.when), r.at));
    }
    for r in o.deny.iter().filter(|r| !n.deny.iter().any(|x| x.when == r.when)) {
        add(Direction::Gains, format!("rule removed: deny when {} (was {})", text(&r.when), r.at));
    }
    for r in n.deny.iter().filter(|r| !o.deny.iter().any(|x| x.when == r.when)) {
        add(Direction::Loses, format!("new rule: deny when {} ({})", text(&r.when), r.at));
    }
}

/// Whether the range `r` lies inside one of `ranges` (compared as text when
/// either does not parse).
fn within(r: &str, ranges: &[String]) -> bool {
    let net =
        |t: &str| t.parse::<ipnet::IpNet>().ok().or_else(|| t.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from));
    ranges.iter().any(|o| o == r || matches!((net(o), net(r)), (Some(outer), Some(inner)) if outer.contains(&inner)))
}

fn when(w: &Option<String>) -> String {
    w.as_ref().map(|c| format!(" when {c}")).unwrap_or_default()
}

fn credential(o: &Credential, n: &Credential, add: &mut impl FnMut(Direction, String)) {
    match (o, n) {
        (a, b) if a == b => {}
        (Credential::Bearer { issuers: oi }, Credential::Bearer { issuers: ni }) => issuers(oi, ni, "tokens", add),
        (_, Credential::Anonymous) => add(Direction::Gains, format!("takes no credential (was: {})", o.describe())),
        (Credential::Anonymous, _) => add(Direction::Loses, format!("now takes {} (was: none)", n.describe())),
        (Credential::ClientSecret { table: ot, clients: oc }, Credential::ClientSecret { table: nt, clients: nc })
            if ot == nt =>
        {
            // Client by client: one removed does not hide another's new secret.
            for (id, entry) in nc {
                match oc.get(id) {
                    None => add(Direction::Gains, format!("client `{id}` added to `{nt}`")),
                    Some(old) if old != entry => {
                        add(Direction::Gains, format!("the entry of client `{id}` in `{nt}` changed"));
                    }
                    Some(_) => {}
                }
            }
            for id in oc.keys().filter(|id| !nc.contains_key(*id)) {
                add(Direction::Loses, format!("client `{id}` removed from `{nt}`"));
            }
        }
        (
            Credential::ApiKey { header: oh, table: ot, keys: ok },
            Credential::ApiKey { header: nh, table: nt, keys: nk },
        ) if oh == nh && ot == nt => {
            let added = nk.iter().filter(|k| !ok.contains(k)).count();
            let removed = ok.iter().filter(|k| !nk.contains(k)).count();
            let entries = |n: usize| if n == 1 { "entry" } else { "entries" };
            if added > 0 {
                add(Direction::Gains, format!("{added} key {} of `{nt}` added or changed", entries(added)));
            }
            if removed > 0 {
                add(Direction::Loses, format!("{removed} key {} of `{nt}` removed or changed", entries(removed)));
            }
        }
        _ => {
            add(Direction::Gains, format!("now takes {}", n.describe()));
            add(Direction::Loses, format!("no longer takes {}", o.describe()));
        }
    }
}

fn issuers(o: &[IssuerRef], n: &[IssuerRef], what: &str, add: &mut impl FnMut(Direction, String)) {
    for ni in n {
        match o.iter().find(|oi| oi.iss == ni.iss) {
            None => add(Direction::Gains, format!("accepts {what} of `{}`", ni.iss)),
            Some(oi) => {
                for aud in ni.audiences.iter().filter(|a| !oi.audiences.contains(a)) {
                    add(Direction::Gains, format!("accepts {what} of `{}` for audience `{aud}`", ni.iss));
                }
                for aud in oi.audiences.iter().filter(|a| !ni.audiences.contains(a)) {
                    add(Direction::Loses, format!("no longer accepts {what} of `{}` for audience `{aud}`", ni.iss));
                }
                for (setting, value) in &ni.trust {
                    if oi.trust.get(setting) != Some(value) {
                        let was = oi.trust.get(setting).map_or("none", String::as_str);
                        add(
                            Direction::Gains,
                            format!("trusts {what} of `{}` with {setting} {value} (was: {was})", ni.iss),
                        );
                    }
                }
                for setting in oi.trust.keys().filter(|k| !ni.trust.contains_key(*k)) {
                    add(Direction::Gains, format!("trusts {what} of `{}` without its {setting} setting", ni.iss));
                }
                if oi.bound && !ni.bound {
                    add(Direction::Gains, format!("accepts {what} of `{}` that are not sender-constrained", ni.iss));
                } else if !oi.bound && ni.bound {
                    add(Direction::Loses, format!("now requires sender-constrained {what} of `{}`", ni.iss));
                }
            }
        }
    }
    for oi in o.iter().filter(|oi| !n.iter().any(|ni| ni.iss == oi.iss)) {
        add(Direction::Loses, format!("no longer accepts {what} of `{}`", oi.iss));
    }
}

fn limit(o: &LimitDef, n: &LimitDef, out: &mut Vec<Change>) {
    let mut add = |direction: Direction, what: String| {
        out.push(Change { subject: format!("limit {}", n.name), zone: String::new(), direction, what });
    };
    // Compared as rates: count / period, as integers (cross-multiplied).
    let (old_rate, new_rate) =
        (u128::from(o.count) * u128::from(n.period_ms), u128::from(n.count) * u128::from(o.period_ms));
    let rate = |l: &LimitDef| format!("{} per {} ms, burst {}", l.count, l.period_ms, l.burst);
    // Rate and burst apart: a lower rate does not hide a larger burst.
    if new_rate > old_rate || n.burst > o.burst {
        add(Direction::Gains, format!("allows more: {} (was {})", rate(n), rate(o)));
    }
    if new_rate < old_rate || n.burst < o.burst {
        add(Direction::Loses, format!("allows less: {} (was {})", rate(n), rate(o)));
    }
    // Other keys may be ones a client picks: counted as a gain.
    if o.keys != n.keys {
        add(Direction::Gains, format!("keyed by {} (was {})", n.keys.join(", "), o.keys.join(", ")));
    }
    if n.ipv6_prefix > o.ipv6_prefix {
        add(
            Direction::Gains,
            format!("keys IPv6 clients by /{} (was /{}): more buckets", n.ipv6_prefix, o.ipv6_prefix),
        );
    }
    if n.fails_open && !o.fails_open {
        add(Direction::Gains, "lets requests through when its shared store cannot answer (was: deny)".to_owned());
    }
}

/// The diff as Markdown, for a pull-request comment.
pub fn markdown(d: &Diff) -> String {
    let mut out = String::from("## Warden: what this change does to access\n\n");
    out.push_str(&format!("`{}` → `{}`\n\n", short(&d.old_revision), short(&d.new_revision)));
    if d.changes.is_empty() {
        out.push_str("No change in who can reach what.\n");
        return out;
    }
    let (gains, loses, other) = (d.count(Direction::Gains), d.count(Direction::Loses), d.count(Direction::Other));
    if d.widens() {
        out.push_str(&format!(
            "**Access widens** ({gains} change{}): a second reviewer should approve.",
            if gains == 1 { "" } else { "s" }
        ));
    } else {
        out.push_str("Access does not widen.");
    }
    out.push_str(&format!(" {loses} narrowing, {other} other.\n"));
    for (direction, title) in [
        (Direction::Gains, "Who gains access"),
        (Direction::Loses, "Who loses access"),
        (Direction::Other, "Other changes"),
    ] {
        let rows: Vec<&Change> = d.changes.iter().filter(|c| c.direction == direction).collect();
        if rows.is_empty() {
            continue;
        }
        out.push_str(&format!("\n### {title}\n\n| endpoint | zone | change |\n|---|---|---|\n"));
        for c in rows {
            out.push_str(&format!("| `{}` | {} | {} |\n", c.subject, c.zone, cell(&c.what)));
        }
    }
    out
}

/// The diff for people: one line per change.
pub fn human(d: &Diff) -> String {
    if d.changes.is_empty() {
        return "no change in who can reach what\n".to_owned();
    }
    let mut out = String::new();
    for c in &d.changes {
        let sign = match c.direction {
            Direction::Gains => "+",
            Direction::Loses => "-",
            Direction::Other => "~",
        };
        out.push_str(&format!("{sign} {}: {}\n", c.subject, c.what));
    }
    out
}
