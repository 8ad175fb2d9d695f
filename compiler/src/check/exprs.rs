//! Expressions: attributes that do not exist where they are used, and
//! types known at compile time that cannot fit (conditions, comparisons,
//! function arguments, body fields through the route's schema).

use warden_language::ast::*;
use warden_language::{Diagnostic, Span};

use super::Checker;
use crate::codes;

/// What a statement block is attached to, for attribute checks.
#[derive(Clone, Copy)]
pub(super) enum Place<'a> {
    /// A limit's key.
    LimitKey,
    /// What a ban counts distinct values of (read after the decision: the body too).
    BanValue,
    /// An api-level statement (applies to every route).
    Api { auth: Option<&'a AuthMethod> },
    /// A route.
    Route { template: &'a [PathSegment], body: Option<&'a Schema>, auth: Option<&'a AuthMethod> },
    /// A resource or action statement.
    Action { auth: Option<&'a AuthMethod> },
}

/// Types known at compile time; `Unknown` is anything (claims, data…).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ty {
    Unknown,
    Str,
    Num,
    Bool,
    List,
    Object,
}

impl Ty {
    /// How messages name the type.
    pub(super) fn name(self) -> &'static str {
        match self {
            Ty::Unknown => "a value",
            Ty::Str => "a string",
            Ty::Num => "a number",
            Ty::Bool => "a boolean",
            Ty::List => "a list",
            Ty::Object => "an object",
        }
    }

    /// Whether the type is known at compile time.
    pub(super) fn known(self) -> bool {
        self != Ty::Unknown
    }
}

impl<'a> Checker<'a> {
    /// Reports an attribute that does not exist here; its type is then unknown.
    fn attr_error(&mut self, span: Span, message: String, help: &str) -> Ty {
        self.push(Diagnostic::error(codes::UNKNOWN_ATTRIBUTE, span, message).with_help(help.to_owned()));
        Ty::Unknown
    }

    /// Checks an expression where `place` puts it and returns its type.
    pub(super) fn expr(&mut self, e: &Expr, place: Place<'a>) -> Ty {
        match &e.kind {
            ExprKind::Str(_) => Ty::Str,
            ExprKind::Number { .. } => Ty::Num,
            ExprKind::Bool(_) => Ty::Bool,
            ExprKind::List(items) => {
                for i in items {
                    self.expr(i, place);
                }
                Ty::List
            }
            ExprKind::Attr { root, path } => {
                for seg in path {
                    if let SegmentKind::Index(i) = &seg.kind {
                        self.expr(i, place);
                    }
                }
                self.attr(root, path, e.span, place)
            }
            ExprKind::Access { base, path } => {
                self.expr(base, place);
                for seg in path {
                    if let SegmentKind::Index(i) = &seg.kind {
                        self.expr(i, place);
                    }
                }
                Ty::Unknown
            }
            ExprKind::Call { func, args } => self.call(func.node, args, place),
            ExprKind::Not(inner) => {
                let t = self.expr(inner, place);
                self.expect_bool(t, inner, "`not`");
                Ty::Bool
            }
            ExprKind::And(items) | ExprKind::Or(items) => {
                let word = if matches!(e.kind, ExprKind::And(_)) { "`and`" } else { "`or`" };
                for i in items {
                    let t = self.expr(i, place);
                    self.expect_bool(t, i, word);
                }
                Ty::Bool
            }
            ExprKind::Compare { op, lhs, rhs } => {
                let l = self.expr(lhs, place);
                let r = self.expr(rhs, place);
                self.compare(op, l, r, e.span);
                Ty::Bool
            }
            ExprKind::Paren(inner) => self.expr(inner, place),
        }
    }

    fn expect_bool(&mut self, t: Ty, e: &Expr, word: &str) {
        if t.known() && t != Ty::Bool {
            self.push(
                Diagnostic::error(codes::TYPE_MISMATCH, e.span, format!("{word} needs a boolean, found {}", t.name()))
                    .with_help("compare the value with something first"),
            );
        }
    }

    /// Comparisons whose operand types can never make sense.
    fn compare(&mut self, op: &Spanned<CmpOp>, l: Ty, r: Ty, span: Span) {
        let problem = match op.node {
            CmpOp::Eq | CmpOp::Ne if l.known() && r.known() && l != r => Some(format!(
                "`{}` compares {} with {}: values of different types do not compare (a type error at run time, so the rule fails closed)",
                op.node.as_str(),
                l.name(),
                r.name(),
            )),
            CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge => {
                let orderable = |t: Ty| matches!(t, Ty::Unknown | Ty::Num | Ty::Str);
                if !orderable(l) || !orderable(r) {
                    Some(format!("`{}` orders numbers or strings, not {} and {}", op.node.as_str(), l.name(), r.name()))
                } else if l.known() && r.known() && l != r {
                    Some(format!("`{}` compares {} with {}", op.node.as_str(), l.name(), r.name()))
                } else {
                    None
                }
            }
            CmpOp::In | CmpOp::NotIn => match r {
                Ty::Num | Ty::Bool => Some(format!(
                    "`{}` needs a list, an object or a string on its right, found {}",
                    op.node.as_str(),
                    r.name()
                )),
                Ty::Str if l.known() && l != Ty::Str => Some(format!(
                    "`{}` on a string looks for a substring, but the left side is {}",
                    op.node.as_str(),
                    l.name()
                )),
                _ => None,
            },
            _ => None,
        };
        if let Some(message) = problem {
            self.push(Diagnostic::error(codes::TYPE_MISMATCH, span, message).with_label("types known at compile time"));
        }
    }

    /// A function call: argument types, and patterns and ranges as string literals.
    fn call(&mut self, func: Func, args: &[Expr], place: Place<'a>) -> Ty {
        let types: Vec<Ty> = args.iter().map(|a| self.expr(a, place)).collect();
        let want_str = |c: &mut Self, i: usize| {
            if let (Some(t), Some(a)) = (types.get(i), args.get(i))
                && t.known()
                && *t != Ty::Str
            {
                c.push(Diagnostic::error(
                    codes::TYPE_MISMATCH,
                    a.span,
                    format!("`{}` takes a string here, found {}", func.as_str(), t.name()),
                ));
            }
        };
        match func {
            Func::Has => Ty::Bool,
            Func::StartsWith | Func::EndsWith => {
                want_str(self, 0);
                want_str(self, 1);
                Ty::Bool
            }
            Func::Lower => {
                want_str(self, 0);
                Ty::Str
            }
            Func::Len => {
                if let (Some(t), Some(a)) = (types.first(), args.first())
                    && matches!(t, Ty::Num | Ty::Bool)
                {
                    self.push(Diagnostic::error(
                        codes::TYPE_MISMATCH,
                        a.span,
                        format!("`len` takes a string, list or object, found {}", t.name()),
                    ));
                }
                Ty::Num
            }
            Func::Matches | Func::InCidr => {
                want_str(self, 0);
                match args.get(1).map(|a| (&a.kind, a.span)) {
                    Some((ExprKind::Str(text), span)) => {
                        let lit = Str { value: text.clone(), span };
                        if func == Func::Matches { self.regex(&lit) } else { self.cidr(&lit) }
                    }
                    Some((_, span)) => self.push(
                        Diagnostic::error(
                            codes::TYPE_MISMATCH,
                            span,
                            format!("the second argument of `{}` must be a string literal", func.as_str()),
                        )
                        .with_help("patterns and ranges are compiled once, when the policy loads"),
                    ),
                    None => {}
                }
                Ty::Bool
            }
        }
    }

    /// An attribute (`root.path…`): whether it exists at `place`, and its type.
    fn attr(&mut self, root: &Spanned<Root>, path: &[Segment], span: Span, place: Place<'a>) -> Ty {
        let first_field = path.first().and_then(|s| match &s.kind {
            SegmentKind::Field(f) => Some(f.as_str()),
            SegmentKind::Index(Expr { kind: ExprKind::Str(s), .. }) => Some(s.as_str()),
            SegmentKind::Index(_) => None,
        });
        let in_action = matches!(place, Place::Action { .. });
        let auth = match place {
            Place::Api { auth } | Place::Route { auth, .. } | Place::Action { auth } => auth,
            Place::LimitKey | Place::BanValue => None,
        };
        match root.node {
            Root::Claim => {
                if matches!(auth, Some(AuthMethod::None)) {
                    return self.attr_error(
                        span,
                        "`claim` under `auth none` is always missing".to_owned(),
                        "with `auth none` there is no identity; test `source`, `header` or `request` instead",
                    );
                }
                Ty::Unknown
            }
            Root::Path => match place {
                Place::Route { template, .. } => {
                    let Some(name) = first_field else { return Ty::Str };
                    let known =
                        template.iter().any(|s| matches!(s, PathSegment::Param(p) | PathSegment::Tail(p) if p == name));
                    if !known {
                        let params: Vec<String> = template
                            .iter()
                            .filter_map(|s| match s {
                                PathSegment::Param(p) | PathSegment::Tail(p) => Some(format!("`{p}`")),
                                PathSegment::Literal(_) => None,
                            })
                            .collect();
                        let help = if params.is_empty() {
                            "this route has no parameters".to_owned()
                        } else {
                            format!("its parameters are {}", params.join(", "))
                        };
                        return self.attr_error(span, format!("the route has no path parameter `{name}`"), &help);
                    }
                    if path.len() > 1 {
                        return self.attr_error(
                            span,
                            format!("`path.{name}` is a string: it has no fields"),
                            "compare the whole parameter",
                        );
                    }
                    Ty::Str
                }
                Place::Action { .. } => self.attr_error(
                    span,
                    "`path` does not exist in a resource action".to_owned(),
                    "actions are asked about resources, not URLs; use `resource.…` or `context.…`",
                ),
                _ => Ty::Str,
            },
            Root::Query | Root::Header => {
                if path.len() > 1 {
                    return self.attr_error(
                        span,
                        format!("`{}` values are strings: they have no fields", root.node.as_str()),
                        "compare the whole value",
                    );
                }
                Ty::Str
            }
            Root::Request => match first_field {
                Some("method" | "path" | "host" | "scheme") if path.len() == 1 => Ty::Str,
                Some(other) => self.attr_error(
                    span,
                    format!("unknown attribute `request.{other}`"),
                    "`request` has `method`, `path`, `host` and `scheme`",
                ),
                None => Ty::Unknown,
            },
            Root::Source => match first_field {
                Some("ip") if path.len() == 1 => Ty::Str,
                Some(other) => {
                    self.attr_error(span, format!("unknown attribute `source.{other}`"), "`source` has `ip`")
                }
                None => Ty::Unknown,
            },
            Root::Peer => match first_field {
                Some("principal") if path.len() == 1 => Ty::Str,
                Some(other) => {
                    self.attr_error(span, format!("unknown attribute `peer.{other}`"), "`peer` has `principal`")
                }
                None => Ty::Unknown,
            },
            Root::Resource | Root::Context => {
                if !in_action {
                    return self.attr_error(
                        span,
                        format!("`{}` exists only in resource actions", root.node.as_str()),
                        "api routes are asked about HTTP requests; use `path`, `query`, `header` or `body`",
                    );
                }
                Ty::Unknown
            }
            Root::Data => {
                let Some(name) = first_field else { return Ty::Unknown };
                if !self.symbols.data.contains_key(name) {
                    self.unknown(codes::UNKNOWN_DATA, "data", name, span, self.symbols.data.keys().copied().collect());
                }
                Ty::Unknown
            }
            Root::Body => match place {
                Place::Route { body: Some(schema), .. } => self.body_path(schema, path),
                Place::LimitKey => self.attr_error(
                    span,
                    "a limit cannot be keyed by the body".to_owned(),
                    "limits are counted before the body is read; key them by `source`, `header`, `claim`…",
                ),
                Place::Action { .. } => {
                    self.attr_error(span, "`body` does not exist in a resource action".to_owned(), "use `context.…`")
                }
                _ => Ty::Unknown,
            },
        }
    }

    /// Follows `body.a.b` through the route's schema.
    fn body_path(&mut self, schema: &'a Schema, path: &[Segment]) -> Ty {
        let mut current: Option<&'a Schema> = Some(schema);
        let mut ty: Option<&'a TypeExpr> = None;
        for seg in path {
            let SegmentKind::Field(name) = &seg.kind else { return Ty::Unknown };
            let Some(s) = current else {
                return match ty.map(|t| &t.kind) {
                    Some(TypeKind::Named(n)) if n.name == "any" => Ty::Unknown,
                    Some(_) => self.attr_error(
                        seg.span,
                        format!("`{name}` is not a field: the value before it is not an object"),
                        "check the schema",
                    ),
                    None => Ty::Unknown,
                };
            };
            match s.fields.iter().find(|f| f.name.name == *name) {
                Some(field) => {
                    ty = Some(&field.ty);
                    current = match &field.ty.kind {
                        TypeKind::Named(n) => self.symbols.schemas.get(n.name.as_str()).map(|&(_, s)| s),
                        _ => None,
                    };
                }
                None if s.open => return Ty::Unknown,
                None => {
                    let fields: Vec<String> = s.fields.iter().map(|f| format!("`{}`", f.name.name)).collect();
                    self.push(
                        Diagnostic::error(
                            codes::UNKNOWN_BODY_FIELD,
                            seg.span,
                            format!("schema `{}` has no field `{name}`", s.name.name),
                        )
                        .with_label("not in the schema")
                        .with_help(format!("its fields are {}", fields.join(", "))),
                    );
                    return Ty::Unknown;
                }
            }
        }
        match ty.map(|t| &t.kind) {
            Some(TypeKind::Named(n)) => match Builtin::parse(&n.name) {
                Some(Builtin::String) => Ty::Str,
                Some(Builtin::Integer | Builtin::Number) => Ty::Num,
                Some(Builtin::Boolean) => Ty::Bool,
                Some(Builtin::Any) | None if current.is_none() => Ty::Unknown,
                _ => Ty::Object,
            },
            Some(TypeKind::Enum(_)) => Ty::Str,
            Some(TypeKind::Array(_)) => Ty::List,
            None => Ty::Object,
        }
    }
}
