//! The builder's rules for expressions: the Pratt parser over operators, postfix fields
//! and indexes, primaries (literals, attribute roots, calls), with nesting bounded first.

use pest::iterators::Pair;

use super::{Builder, Rule, kids};
use crate::ast::*;
use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::span::Span;

/// How many `not`s may follow each other.
const MAX_NOT_CHAIN: usize = 8;

/// How many `not`s one expression level may hold.
const MAX_NOTS: usize = 64;

impl Builder<'_> {
    pub(super) fn expr(&self, pair: Pair<'_, Rule>) -> Expr {
        let span = self.span(&pair);
        // Bound what nests in the Pratt parser before running it: runs of
        // `not`, `not`s in all, and comparisons chained without `and`/`or`
        // (`a == b == c`, or `a == not b == not c …`, which would nest once per
        // operator).
        let mut run = 0usize;
        let mut longest = 0usize;
        let mut nots = 0usize;
        let mut last_cmp: Option<(CmpOp, Span)> = None;
        for p in pair.clone().into_inner() {
            let rule = p.as_rule();
            if rule == Rule::op_not {
                run += 1;
                nots += 1;
                longest = longest.max(run);
                continue;
            }
            run = 0;
            match rule {
                Rule::op_and | Rule::op_or => last_cmp = None,
                Rule::op_eq
                | Rule::op_ne
                | Rule::op_lt
                | Rule::op_le
                | Rule::op_gt
                | Rule::op_ge
                | Rule::op_in
                | Rule::op_not_in => {
                    let op = cmp_op(rule);
                    let op_span = self.span(&p);
                    if let Some((first, first_span)) = last_cmp {
                        self.error(
                            Diagnostic::error(
                                codes::CHAINED_COMPARISON,
                                op_span,
                                format!("comparison `{}` follows comparison `{}`", op.as_str(), first.as_str()),
                            )
                            .with_label("chained comparison")
                            .with_related(first_span, "first comparison")
                            .with_help("compare two values at a time and join them with `and`, or add parentheses"),
                        );
                        return Expr { kind: ExprKind::Bool(false), span };
                    }
                    last_cmp = Some((op, op_span));
                }
                _ => {}
            }
        }
        if longest > MAX_NOT_CHAIN || nots > MAX_NOTS {
            let message = if longest > MAX_NOT_CHAIN {
                format!("{longest} `not`s in a row")
            } else {
                format!("{nots} `not`s in one expression")
            };
            self.error(
                Diagnostic::error(codes::NESTING_TOO_DEEP, span, message)
                    .with_help("`not not x` is `x`; remove the doubled `not`s, or split the expression"),
            );
            return Expr { kind: ExprKind::Bool(false), span };
        }
        self.pratt
            .map_primary(|p| self.postfix(p))
            .map_prefix(|op, rhs| {
                let op_span = self.span(&op);
                Expr { span: op_span.to(rhs.span), kind: ExprKind::Not(Box::new(rhs)) }
            })
            .map_infix(|lhs, op, rhs| self.infix(lhs, op, rhs))
            .parse(pair.into_inner())
    }

    pub(super) fn infix(&self, lhs: Expr, op: Pair<'_, Rule>, rhs: Expr) -> Expr {
        let span = lhs.span.to(rhs.span);
        let op_span = self.span(&op);
        let cmp = match op.as_rule() {
            Rule::op_and => {
                let kind = match lhs.kind {
                    ExprKind::And(mut items) => {
                        items.push(rhs);
                        ExprKind::And(items)
                    }
                    other => ExprKind::And(vec![Expr { kind: other, span: lhs.span }, rhs]),
                };
                return Expr { kind, span };
            }
            Rule::op_or => {
                let kind = match lhs.kind {
                    ExprKind::Or(mut items) => {
                        items.push(rhs);
                        ExprKind::Or(items)
                    }
                    other => ExprKind::Or(vec![Expr { kind: other, span: lhs.span }, rhs]),
                };
                return Expr { kind, span };
            }
            rule => cmp_op(rule),
        };
        if let ExprKind::Compare { op: first, .. } = &lhs.kind {
            self.error(
                Diagnostic::error(
                    codes::CHAINED_COMPARISON,
                    op_span,
                    format!("comparison `{}` follows comparison `{}`", cmp.as_str(), first.node.as_str()),
                )
                .with_label("chained comparison")
                .with_related(first.span, "first comparison")
                .with_help("compare two values at a time and join them with `and`, or add parentheses"),
            );
        }
        Expr {
            kind: ExprKind::Compare { op: Spanned::new(cmp, op_span), lhs: Box::new(lhs), rhs: Box::new(rhs) },
            span,
        }
    }

    pub(super) fn postfix(&self, pair: Pair<'_, Rule>) -> Expr {
        let span = self.span(&pair);
        let mut parts = pair.into_inner();
        let Some(first) = parts.next() else {
            return Expr { kind: ExprKind::Bool(false), span };
        };
        let base = self.primary(first);
        let path: Vec<Segment> = parts
            .map(|p| {
                let at = self.span(&p);
                let rule = p.as_rule();
                let inner = kids(p).next();
                let kind = match (rule, inner) {
                    (Rule::field_access, Some(name)) => SegmentKind::Field(name.as_str().to_owned()),
                    (_, Some(e)) => SegmentKind::Index(self.expr(e)),
                    (_, None) => SegmentKind::Field(String::new()),
                };
                Segment { kind, span: at }
            })
            .collect();
        if path.is_empty() {
            return base;
        }
        match base.kind {
            ExprKind::Attr { root, path: mut existing } => {
                existing.extend(path);
                Expr { kind: ExprKind::Attr { root, path: existing }, span }
            }
            kind => Expr { kind: ExprKind::Access { base: Box::new(Expr { kind, span: base.span }), path }, span },
        }
    }

    pub(super) fn primary(&self, pair: Pair<'_, Rule>) -> Expr {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::string => ExprKind::Str(self.string(pair).value),
            Rule::number => {
                let n = self.number(pair);
                ExprKind::Number { value: n.value, raw: n.raw }
            }
            Rule::boolean => ExprKind::Bool(pair.as_str() == "true"),
            Rule::list => ExprKind::List(kids(pair).map(|e| self.expr(e)).collect()),
            Rule::paren => match kids(pair).next() {
                Some(e) => ExprKind::Paren(Box::new(self.expr(e))),
                None => ExprKind::Bool(false),
            },
            Rule::name => {
                let name = pair.as_str();
                match Root::parse(name) {
                    Some(root) => ExprKind::Attr { root: Spanned::new(root, span), path: Vec::new() },
                    None => {
                        self.error(
                            Diagnostic::error(codes::UNKNOWN_ATTRIBUTE, span, format!("unknown name `{name}`"))
                                .with_label("not an attribute")
                                .with_help(format!(
                                    "attributes start with {}; text is written in double quotes: `\"{name}\"`",
                                    Root::ALL
                                        .iter()
                                        .map(|r| format!("`{}`", r.as_str()))
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                )),
                        );
                        ExprKind::Str(name.to_owned())
                    }
                }
            }
            Rule::call => {
                let mut parts = kids(pair);
                let Some(name) = parts.next() else {
                    return Expr { kind: ExprKind::Bool(false), span };
                };
                let name_span = self.span(&name);
                let fname = name.as_str().to_owned();
                let args: Vec<Expr> = parts.map(|e| self.expr(e)).collect();
                let Some(func) = Func::parse(&fname) else {
                    self.error(
                        Diagnostic::error(codes::UNKNOWN_FUNCTION, name_span, format!("unknown function `{fname}`"))
                            .with_label("not a built-in function")
                            .with_help(format!(
                                "the functions are {}",
                                Func::ALL.iter().map(|f| format!("`{}`", f.as_str())).collect::<Vec<_>>().join(", ")
                            )),
                    );
                    return Expr { kind: ExprKind::Bool(false), span };
                };
                if args.len() != func.arity() {
                    self.error(
                        Diagnostic::error(
                            codes::WRONG_ARITY,
                            span,
                            format!(
                                "`{fname}` takes {} argument{}, found {}",
                                func.arity(),
                                if func.arity() == 1 { "" } else { "s" },
                                args.len()
                            ),
                        )
                        .with_label("wrong number of arguments"),
                    );
                }
                if func == Func::Has
                    && let Some(arg) = args.first()
                    && !matches!(arg.kind, ExprKind::Attr { .. })
                {
                    self.error(
                        Diagnostic::error(
                            codes::HAS_NEEDS_ATTRIBUTE,
                            arg.span,
                            "`has` takes an attribute such as `claim.email`",
                        )
                        .with_label("not an attribute")
                        .with_help("`has(claim.x)` is true when the request carries `claim.x`"),
                    );
                }
                ExprKind::Call { func: Spanned::new(func, name_span), args }
            }
            _ => ExprKind::Bool(false),
        };
        Expr { kind, span }
    }
}

fn cmp_op(rule: Rule) -> CmpOp {
    match rule {
        Rule::op_eq => CmpOp::Eq,
        Rule::op_ne => CmpOp::Ne,
        Rule::op_lt => CmpOp::Lt,
        Rule::op_le => CmpOp::Le,
        Rule::op_gt => CmpOp::Gt,
        Rule::op_ge => CmpOp::Ge,
        Rule::op_in => CmpOp::In,
        _ => CmpOp::NotIn,
    }
}
