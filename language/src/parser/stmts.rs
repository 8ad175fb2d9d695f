//! The builder's rules for statements: `auth`, `scope`, `limit`, `body`, `allow`, `deny`, `upstream header`, `mint`.

use pest::iterators::Pair;

use super::{Builder, Rule, kids};
use crate::ast::*;

impl Builder<'_> {
    pub(super) fn block(&self, pair: Pair<'_, Rule>) -> Vec<Stmt> {
        kids(pair).filter_map(|p| self.stmt(p)).collect()
    }

    pub(super) fn stmt(&self, pair: Pair<'_, Rule>) -> Option<Stmt> {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut parts = kids(pair);
        let kind = match rule {
            Rule::auth => {
                let method = parts.next()?;
                let rule = method.as_rule();
                let mut args = kids(method);
                StmtKind::Auth(match rule {
                    Rule::auth_bearer => AuthMethod::Bearer,
                    Rule::auth_mtls => AuthMethod::Mtls,
                    Rule::auth_client_secret => AuthMethod::ClientSecret { file: self.next_string(&mut args, span) },
                    Rule::auth_api_key => {
                        let header = self.next_string(&mut args, span);
                        AuthMethod::ApiKey { header, file: self.next_string(&mut args, span) }
                    }
                    Rule::auth_asserted => AuthMethod::Asserted,
                    _ => AuthMethod::None,
                })
            }
            Rule::scope => {
                let mut any = false;
                let mut scopes = Vec::new();
                for p in parts {
                    match p.as_rule() {
                        Rule::scope_any => any = true,
                        Rule::string_list => scopes = self.strings(p),
                        _ => {}
                    }
                }
                StmtKind::Scope { any, scopes }
            }
            Rule::use_limit => StmtKind::Limit(parts.map(|p| self.ident(p)).collect()),
            Rule::use_ban => StmtKind::Ban(parts.map(|p| self.ident(p)).collect()),
            Rule::body_stmt => {
                let spec = parts.next()?;
                let rule = spec.as_rule();
                let mut schema = None;
                let mut max = None;
                for p in kids(spec) {
                    match p.as_rule() {
                        Rule::ident => schema = Some(self.ident(p)),
                        Rule::body_max => max = kids(p).next().map(|s| self.size(s)),
                        _ => {}
                    }
                }
                StmtKind::Body(match rule {
                    Rule::body_json => BodySpec::Json { schema, max },
                    Rule::body_any => BodySpec::Any { max },
                    _ => BodySpec::None,
                })
            }
            Rule::allow => StmtKind::Allow(parts.next().map(|e| self.expr(e))),
            Rule::deny => StmtKind::Deny(self.expr(parts.next()?)),
            Rule::upstream_header => {
                let name = self.next_string(&mut parts, span);
                StmtKind::UpstreamHeader { name, value: self.expr(parts.next()?) }
            }
            Rule::mint => {
                let zone = self.ident(parts.next()?);
                let body = parts.next();
                let body_span = body.as_ref().map(|b| self.span(b));
                let items = body.map(|b| kids(b).filter_map(|p| self.mint_item(p)).collect());
                StmtKind::Mint(Mint { zone, body: body_span, items: items.unwrap_or_default() })
            }
            _ => return None,
        };
        Some(Spanned::new(kind, span))
    }

    fn mint_item(&self, pair: Pair<'_, Rule>) -> Option<Spanned<MintItem>> {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut parts = kids(pair);
        let item = match rule {
            Rule::mint_claim => {
                let name = self.key(parts.next()?);
                MintItem::Claim { name, value: self.expr(parts.next()?) }
            }
            Rule::mint_scope => MintItem::Scope(self.strings(parts.next()?)),
            Rule::mint_lifetime => MintItem::Lifetime(self.duration(parts.next()?)),
            Rule::mint_header => MintItem::Header(self.next_string(&mut parts, span)),
            Rule::mint_bind => MintItem::Bind(self.next_string(&mut parts, span)),
            _ => return None,
        };
        Some(Spanned::new(item, span))
    }
}
