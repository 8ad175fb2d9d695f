//! The access matrix and its diff over small sets.

use super::diff::{Direction, diff};
use super::*;
use crate::{Loader, PolicySet, SourceFile, compile};

struct NoFiles;

impl Loader for NoFiles {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        Err(format!("no file `{path}`"))
    }
}

const BASE: &str = r#"zone customers {
  issuer "https://idp.example" {
    jwks url "https://idp.example/jwks"
    audience "https://api.example"
  }
}

zone office {
  network "10.0.0.0/8"
}

limit per_ip = 10 per 1s by source.ip

api bank in zone customers {
  host "api.example"
  auth bearer
  limit per_ip

  route GET "/accounts/{id}" {
    scope "accounts:read"
    deny when claim.state == "frozen"
    allow when claim.customer_id == path.id
  }

  route GET "/health" {
    auth none
    allow
  }

  route DELETE "/accounts/{id}" {
    scope "accounts:write"
    deny when 1 == 1
    allow
  }

  route GET "/search" {
    allow when matches(query.q, "^[a-z]+$")
  }
}

api admin in zone office {
  host "admin.example"
  auth none

  route GET "/stats" {
    allow
  }
}
"#;

fn matrix_of(text: &str) -> Matrix {
    let set = PolicySet { files: vec![SourceFile::new("p.warden".to_owned(), text.to_owned())] };
    let (graph, _) = compile(&set, &NoFiles).unwrap_or_else(|d| panic!("{d:#?}"));
    matrix(&graph, Some(&set))
}

fn find<'a>(m: &'a Matrix, id: &str) -> &'a Access {
    m.endpoints.iter().find(|a| a.endpoint == id).unwrap_or_else(|| panic!("no {id} in {:#?}", m.endpoints))
}

#[test]
fn the_matrix_says_who_reaches_what_under_which_rules() {
    let m = matrix_of(BASE);
    let read = find(&m, "bank.GET /accounts/{id}");
    assert_eq!(
        read.credential,
        Credential::Bearer {
            issuers: vec![IssuerRef {
                iss: "https://idp.example".to_owned(),
                audiences: vec!["https://api.example".to_owned()],
                bound: false,
                trust: [
                    ("algorithms", "RS256 ES256 EdDSA"),
                    ("keys", "url https://idp.example/jwks"),
                    ("leeway", "30000 ms"),
                    ("scopes from", "scope"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            }]
        }
    );
    assert_eq!((read.scopes.as_slice(), read.reach), (&["accounts:read".to_owned()][..], Reach::Conditional));
    assert_eq!(read.allow[0].when.as_deref(), Some("claim.customer_id == path.id"));
    assert_eq!(read.allow[0].written.as_deref(), Some("allow when claim.customer_id == path.id"));
    assert_eq!(read.deny[0].when.as_deref(), Some("claim.state == \"frozen\""));
    assert_eq!(read.limits, ["per_ip (pre-auth)"]);
    assert!(read.inexact.is_empty());
    assert_eq!(read.at, "p.warden:19");
    // Public, always allowed.
    let health = find(&m, "bank.GET /health");
    assert_eq!((&health.credential, health.reach), (&Credential::Anonymous, Reach::Always));
    // No allow rule: never allowed.
    assert_eq!(find(&m, "bank.DELETE /accounts/{id}").reach, Reach::Never);
    // A regular expression is shown, not solved.
    let search = find(&m, "bank.GET /search");
    assert_eq!(search.inexact, ["a regular expression (^[a-z]+$)"]);
    // A network-bound zone.
    let stats = find(&m, "admin.GET /stats");
    assert_eq!(stats.networks, ["10.0.0.0/8"]);
    assert!(stats.who().contains("from 10.0.0.0/8"), "{}", stats.who());
    assert!(human(&m).contains("bank.GET /accounts/{id}  [zone customers]  p.warden:19"));
    assert!(markdown(&m).contains(
        "| `bank.GET /health` | customers | anyone (no credential), from any address | always allowed | allow |"
    ));
}

/// The changes from BASE to BASE with `from` replaced by `to`.
fn changes(from: &str, to: &str) -> Vec<(Direction, String, String)> {
    assert!(BASE.contains(from), "{from}");
    let d = diff(&matrix_of(BASE), &matrix_of(&BASE.replacen(from, to, 1)));
    d.changes.into_iter().map(|c| (c.direction, c.subject, c.what)).collect()
}

#[test]
fn the_diff_says_who_gains_and_who_loses() {
    let same = diff(&matrix_of(BASE), &matrix_of(BASE));
    assert!(same.changes.is_empty() && !same.widens(), "{same:#?}");
    let g = |s: &str| (Direction::Gains, "bank.GET /accounts/{id}".to_owned(), s.to_owned());
    let l = |s: &str| (Direction::Loses, "bank.GET /accounts/{id}".to_owned(), s.to_owned());
    assert_eq!(changes("    scope \"accounts:read\"\n", ""), [g("no longer requires scope `accounts:read`")]);
    assert_eq!(
        changes("    deny when claim.state == \"frozen\"\n", ""),
        [g("rule removed: deny when claim.state == \"frozen\" (was p.warden:21)")]
    );
    // A changed condition is a rule removed and a rule added: it widens.
    assert_eq!(
        changes("claim.customer_id == path.id", "claim.customer_id == path.id or claim.role == \"teller\""),
        [
            g("new rule: allow when (claim.customer_id == path.id or claim.role == \"teller\") (p.warden:22)"),
            l("rule removed: allow when claim.customer_id == path.id (was p.warden:22)")
        ]
    );
    // Another audience accepted: every route of the zone gains.
    let wider =
        changes("audience \"https://api.example\"", "audience \"https://api.example\", \"https://other.example\"");
    assert!(
        wider.iter().all(|c| c.0 == Direction::Gains && c.2.contains("for audience `https://other.example`")),
        "{wider:?}"
    );
    assert_eq!(wider.len(), 3, "the three routes that take tokens: {wider:?}");
    // The office opened to every address.
    let open = changes("  network \"10.0.0.0/8\"\n", "");
    assert_eq!(
        open,
        [(Direction::Gains, "admin.GET /stats".to_owned(), "reachable from any address (was: 10.0.0.0/8)".to_owned())]
    );
    // A range inside the old one takes no one in; a wider one does.
    let inside = changes("network \"10.0.0.0/8\"", "network \"10.1.0.0/16\"");
    assert_eq!(
        inside,
        [(Direction::Loses, "admin.GET /stats".to_owned(), "no longer reachable from `10.0.0.0/8`".to_owned())]
    );
    let wider = changes("network \"10.0.0.0/8\"", "network \"10.0.0.0/7\"");
    assert_eq!(wider[0], (Direction::Gains, "admin.GET /stats".to_owned(), "reachable from `10.0.0.0/7`".to_owned()));
    // A narrowing only: does not widen.
    let d = diff(
        &matrix_of(BASE),
        &matrix_of(&BASE.replacen(
            "  route GET \"/stats\" {\n    allow\n",
            "  route GET \"/stats\" {\n    allow\n    deny when has(query.debug)\n",
            1,
        )),
    );
    assert!(!d.widens(), "{d:#?}");
    assert_eq!(d.changes[0].direction, Direction::Loses);
    // A route that was never allowed becomes allowed.
    let opened = changes("    deny when 1 == 1\n", "");
    assert!(
        opened.contains(&(
            Direction::Gains,
            "bank.DELETE /accounts/{id}".to_owned(),
            "can now be allowed (always allowed)".to_owned()
        )),
        "{opened:?}"
    );
    // The issuer's keys from elsewhere: every route that takes its tokens gains.
    let keys = changes("jwks url \"https://idp.example/jwks\"", "jwks url \"https://keys.attacker.example/jwks\"");
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert_eq!(
        keys[0].2,
        "trusts tokens of `https://idp.example` with keys url https://keys.attacker.example/jwks (was: url https://idp.example/jwks)"
    );
    // A longer leeway (expired tokens pass longer) is a gain too.
    let leeway =
        changes("    audience \"https://api.example\"\n", "    audience \"https://api.example\"\n    leeway 5m\n");
    assert!(leeway.iter().all(|c| c.0 == Direction::Gains && c.2.contains("with leeway 300000 ms")), "{leeway:?}");
    // An upstream header that was not there.
    let upstream = changes(
        "    allow when claim.customer_id == path.id\n",
        "    allow when claim.customer_id == path.id\n    upstream header \"x-user\" = claim.sub\n",
    );
    assert_eq!(upstream, [g("upstream header x-user = claim.sub")]);
    // Limits: a larger burst gains even with a lower rate; other keys gain.
    let burst = changes("10 per 1s by source.ip", "5 per 1s burst 100 by source.ip");
    assert_eq!(burst.iter().map(|c| c.0).collect::<Vec<_>>(), [Direction::Gains, Direction::Loses], "{burst:?}");
    let keyed = changes("by source.ip", "by header[\"x-request-id\"]");
    assert_eq!(
        (keyed[0].0, keyed[0].2.as_str()),
        (Direction::Gains, "keyed by header[\"x-request-id\"] (was source.ip)")
    );
    // Limits: a higher rate gains, a lower one loses.
    assert_eq!(changes("10 per 1s", "20 per 1s")[0].0, Direction::Gains);
    assert_eq!(changes("10 per 1s", "10 per 2s")[0].0, Direction::Loses);
    // New and removed endpoints.
    let added =
        changes("  route GET \"/search\"", "  route GET \"/export\" {\n    allow\n  }\n\n  route GET \"/search\"");
    assert_eq!(added[0].0, Direction::Gains);
    assert!(added[0].2.starts_with("new: a token of `https://idp.example`"), "{added:?}");
    assert!(
        diff::markdown(&diff(&matrix_of(BASE), &matrix_of(&BASE.replacen("    scope \"accounts:read\"\n", "", 1))))
            .contains("**Access widens** (1 change): a second reviewer should approve.")
    );
}
