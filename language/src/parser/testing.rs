//! The builder's rules for `test` declarations: steps, requests, resource checks,
//! tokens, expectations and JSON-like values.

use pest::iterators::Pair;

use super::{Builder, Rule, kids, missing_str};
use crate::ast::*;
use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::reason::Reason;
use crate::suggest::edit_distance;

/// Largest `repeat` count.
const MAX_REPEAT: u64 = 10_000;

impl Builder<'_> {
    pub(super) fn test(&self, pair: Pair<'_, Rule>) -> Test {
        let span = self.span(&pair);
        let mut name = None;
        let mut steps = Vec::new();
        let mut body = span;
        for p in kids(pair) {
            match p.as_rule() {
                Rule::string => name = Some(self.string(p)),
                Rule::test_body => {
                    body = self.span(&p);
                    steps = self.steps(p);
                }
                _ => {}
            }
        }
        Test { doc: self.doc_before(span.start()), name: name.unwrap_or_else(|| missing_str(span)), steps, span, body }
    }

    pub(super) fn steps(&self, pair: Pair<'_, Rule>) -> Vec<Step> {
        kids(pair).filter_map(|p| self.step(p)).collect()
    }

    pub(super) fn step(&self, pair: Pair<'_, Rule>) -> Option<Step> {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut parts = kids(pair);
        let kind = match rule {
            Rule::t_request => {
                let method = self.method(parts.next()?);
                if method.node == Method::Any {
                    self.error(
                        Diagnostic::error(codes::MISPLACED, method.span, "a test request needs a concrete method")
                            .with_help("`ANY` matches routes; a request is sent with one method such as `GET`"),
                    );
                }
                let url = self.next_string(&mut parts, span);
                self.check_test_url(&url);
                let mut items = Vec::new();
                let mut body = None;
                if let Some(block) = parts.next() {
                    body = Some(self.span(&block));
                    items = kids(block).filter_map(|i| self.request_item(i)).collect();
                }
                StepKind::Request(Request { method, url, items, body })
            }
            Rule::t_exchange => {
                let audience = self.next_string(&mut parts, span);
                let mut items = Vec::new();
                let mut body = None;
                if let Some(block) = parts.next() {
                    body = Some(self.span(&block));
                    items = kids(block).filter_map(|i| self.request_item(i)).collect();
                }
                StepKind::Exchange(ExchangeCall { audience, items, body })
            }
            Rule::t_check => {
                let resource_type = self.ident(parts.next()?);
                let action = self.ident(parts.next()?);
                let mut items = Vec::new();
                let mut body = None;
                if let Some(block) = parts.next() {
                    body = Some(self.span(&block));
                    items = kids(block).filter_map(|i| self.check_item(i)).collect();
                }
                StepKind::Check(Check { resource_type, action, items, body })
            }
            Rule::t_expect => {
                let e = parts.next()?;
                let rule = e.as_rule();
                let mut args = kids(e);
                StepKind::Expect(match rule {
                    Rule::e_allow => Expectation::Allow,
                    Rule::e_header => {
                        let name = self.next_string(&mut args, span);
                        Expectation::Header { name, value: self.next_string(&mut args, span) }
                    }
                    _ => {
                        let status = args.next().map(|s| self.status(s));
                        let reason = args.next().and_then(|r| self.reason(r));
                        // `allowed` is no denial's reason: that is said once, below.
                        if let (Some(status), Some(reason)) = (&status, &reason)
                            && !reason.node.may_have(status.node)
                            && status.node != 0
                            && reason.node != Reason::Allowed
                        {
                            self.error(
                                Diagnostic::error(
                                    codes::STATUS_REASON_MISMATCH,
                                    status.span.to(reason.span),
                                    format!(
                                        "reason `{}` comes with status {}, not {}",
                                        reason.node,
                                        reason.node.status(),
                                        status.node
                                    ),
                                )
                                .with_help(format!(
                                    "write `expect deny {} {}`",
                                    reason.node.status(),
                                    reason.node
                                )),
                            );
                        }
                        if let Some(reason) = &reason
                            && reason.node == Reason::Allowed
                        {
                            self.error(
                                Diagnostic::error(
                                    codes::UNKNOWN_REASON,
                                    reason.span,
                                    "`allowed` is not a reason for a denial",
                                )
                                .with_help("write `expect allow`"),
                            );
                        }
                        Expectation::Deny { status, reason }
                    }
                })
            }
            Rule::t_repeat => {
                let count = self.integer(parts.next()?);
                if count.node == 0 || count.node > MAX_REPEAT {
                    self.error(
                        Diagnostic::error(
                            codes::INVALID_REPEAT,
                            count.span,
                            format!("`repeat {}` is out of range", count.node),
                        )
                        .with_help(format!("repeat between 1 and {MAX_REPEAT} times")),
                    );
                }
                let block = parts.next()?;
                StepKind::Repeat { count, body: self.span(&block), steps: self.steps(block) }
            }
            Rule::t_wait => StepKind::Wait(self.duration(parts.next()?)),
            _ => return None,
        };
        Some(Spanned::new(kind, span))
    }

    pub(super) fn status(&self, pair: Pair<'_, Rule>) -> Spanned<u16> {
        let n = self.integer(pair);
        let status = u16::try_from(n.node).ok().filter(|s| (400..=599).contains(s));
        if status.is_none() {
            self.error(
                Diagnostic::error(codes::INVALID_STATUS, n.span, format!("`{}` is not a denial status", n.node))
                    .with_help("a denial has a 4xx or 5xx status such as 401, 403, 404, 429 or 503"),
            );
        }
        Spanned::new(status.unwrap_or(0), n.span)
    }

    pub(super) fn reason(&self, pair: Pair<'_, Rule>) -> Option<Spanned<Reason>> {
        let span = self.span(&pair);
        let name = pair.as_str();
        match Reason::parse(name) {
            Some(r) => Some(Spanned::new(r, span)),
            None => {
                let close = Reason::ALL.iter().find(|r| edit_distance(r.as_str(), name) <= 2);
                let help = match close {
                    Some(r) => format!("did you mean `{r}`?"),
                    None => "`warden explain E0115` lists every reason with its status".to_owned(),
                };
                self.error(
                    Diagnostic::error(codes::UNKNOWN_REASON, span, format!("unknown reason `{name}`"))
                        .with_label("not a decision reason")
                        .with_help(help),
                );
                None
            }
        }
    }

    pub(super) fn check_test_url(&self, url: &Str) {
        let v = url.value.as_str();
        let ok = v.starts_with('/')
            || ["http://", "https://"]
                .iter()
                .any(|scheme| v.strip_prefix(scheme).is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/')));
        if !ok || v.contains(char::is_whitespace) {
            self.error(
                Diagnostic::error(codes::INVALID_TEST_URL, url.span, format!("`{v}` is not a request URL"))
                    .with_help("write a full URL such as `https://api.example/v1/x` or a path such as `/v1/x`"),
            );
        }
    }

    pub(super) fn token(&self, pair: Pair<'_, Rule>) -> TokenSpec {
        let mut variant = None;
        let mut claims = None;
        for p in kids(pair) {
            let at = self.span(&p);
            let rule = p.as_rule();
            let v = match rule {
                Rule::tv_expired => TokenVariant::Expired,
                Rule::tv_not_yet_valid => TokenVariant::NotYetValid,
                Rule::tv_wrong_key => TokenVariant::WrongKey,
                Rule::tv_alg => TokenVariant::Alg(self.next_string(&mut kids(p), at)),
                Rule::tv_raw => TokenVariant::Raw(self.next_string(&mut kids(p), at)),
                Rule::object => {
                    claims = Some(self.value(p));
                    continue;
                }
                _ => continue,
            };
            variant = Some(Spanned::new(v, at));
        }
        if let (Some(v), Some(c)) = (&variant, &claims)
            && matches!(v.node, TokenVariant::Raw(_))
        {
            self.error(
                Diagnostic::error(codes::INVALID_TOKEN, c.span, "a `token raw` is sent as written and takes no claims")
                    .with_help("remove the claims, or mint a token with `token { … }`"),
            );
        }
        TokenSpec { variant, claims }
    }

    pub(super) fn request_item(&self, pair: Pair<'_, Rule>) -> Option<Spanned<RequestItem>> {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        if rule == Rule::r_token {
            return Some(Spanned::new(RequestItem::Token(self.token(pair)), span));
        }
        let mut parts = kids(pair);
        let item = match rule {
            Rule::r_ip => RequestItem::Ip(self.next_string(&mut parts, span)),
            Rule::r_peer => RequestItem::Peer(self.next_string(&mut parts, span)),
            Rule::r_header => {
                let name = self.next_string(&mut parts, span);
                RequestItem::Header { name, value: self.next_string(&mut parts, span) }
            }
            Rule::r_json => RequestItem::Json(self.value(parts.next()?)),
            Rule::r_body => {
                let text = self.next_string(&mut parts, span);
                RequestItem::Body { text, content_type: parts.next().map(|p| self.string(p)) }
            }
            Rule::r_basic => {
                let client = self.next_string(&mut parts, span);
                RequestItem::Basic { client, secret: self.next_string(&mut parts, span) }
            }
            Rule::r_cert => RequestItem::Certificate(self.next_string(&mut parts, span)),
            Rule::r_dpop => RequestItem::Dpop,
            _ => return None,
        };
        Some(Spanned::new(item, span))
    }

    pub(super) fn check_item(&self, pair: Pair<'_, Rule>) -> Option<Spanned<CheckItem>> {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        if rule == Rule::r_token {
            return Some(Spanned::new(CheckItem::Token(self.token(pair)), span));
        }
        let mut parts = kids(pair);
        let item = match rule {
            Rule::r_ip => CheckItem::Ip(self.next_string(&mut parts, span)),
            Rule::r_peer => CheckItem::Peer(self.next_string(&mut parts, span)),
            Rule::c_subject => {
                let id = self.next_string(&mut parts, span);
                CheckItem::Subject { id, properties: parts.next().map(|p| self.value(p)) }
            }
            Rule::c_resource => {
                let id = self.next_string(&mut parts, span);
                CheckItem::Resource { id, properties: parts.next().map(|p| self.value(p)) }
            }
            Rule::c_context => CheckItem::Context(self.value(parts.next()?)),
            _ => return None,
        };
        Some(Spanned::new(item, span))
    }

    pub(super) fn value(&self, pair: Pair<'_, Rule>) -> Value {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::string => ValueKind::Str(self.string(pair).value),
            Rule::number => {
                let n = self.number(pair);
                ValueKind::Number { value: n.value, raw: n.raw }
            }
            Rule::boolean => ValueKind::Bool(pair.as_str() == "true"),
            Rule::null => ValueKind::Null,
            Rule::array => ValueKind::Array(kids(pair).map(|v| self.value(v)).collect()),
            Rule::object => {
                let mut entries: Vec<(Key, Value)> = Vec::new();
                for entry in kids(pair) {
                    let mut parts = kids(entry);
                    let (Some(k), Some(v)) = (parts.next(), parts.next()) else {
                        continue;
                    };
                    let key = self.key(k);
                    if let Some((first, _)) = entries.iter().find(|(existing, _)| existing.name == key.name) {
                        self.error(
                            Diagnostic::error(codes::DUPLICATE_KEY, key.span, format!("key `{}` appears twice", key.name))
                                .with_label("duplicate key")
                                .with_related(first.span, "first here")
                                .with_help("remove one of them: JSON objects with duplicate keys are read differently by different parsers"),
                        );
                    }
                    entries.push((key, self.value(v)));
                }
                ValueKind::Object(entries)
            }
            _ => ValueKind::Null,
        };
        Value { kind, span }
    }
}
