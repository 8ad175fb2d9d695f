//! The canonical formatter: prints a parsed file in the one Warden layout, keeping every comment.
//!
//! Layout: two-space indents, one statement per line, blocks always opened
//! on the line of their header, at most one blank line kept between items,
//! always one between top-level blocks. Expressions keep the parentheses the
//! author wrote. Comments stay where they were relative to statements; a
//! comment written inside a statement that spans lines moves after it.
//! Formatting is idempotent and never changes the AST (up to spans); tests
//! check both over every fixture and example.

use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::parser::{Parsed, is_identifier, parse};
use crate::scan::Comment;
use crate::span::Span;

/// Values (objects, lists) longer than this print one entry per line.
const INLINE_VALUE_WIDTH: usize = 80;

/// Formats a source text; refuses (returning the parse errors) when it does
/// not parse, since a partial tree would lose text.
pub fn format_source(source: &str) -> Result<String, Vec<Diagnostic>> {
    let parsed = parse(source);
    if parsed.has_errors() {
        return Err(parsed.diagnostics.into_iter().filter(Diagnostic::is_error).collect());
    }
    Ok(format(&parsed, source))
}

/// Formats an already parsed file. `parsed` must come from `source` without errors.
pub fn format(parsed: &Parsed, source: &str) -> String {
    let mut p = Printer {
        src: source,
        comments: &parsed.comments,
        next: 0,
        out: String::with_capacity(source.len() + 64),
        indent: 0,
        last_end: 0,
        block_start: true,
        force_blank: false,
    };
    let mut prev_block = false;
    for decl in &parsed.file.decls {
        let block = !matches!(decl, Decl::Limit(_) | Decl::Ban(_) | Decl::Data(_));
        p.force_blank = prev_block || block;
        p.decl(decl);
        prev_block = block;
    }
    p.force_blank = false;
    p.rest(source.len());
    let trimmed = p.out.trim_end().len();
    p.out.truncate(trimmed);
    if !p.out.is_empty() {
        p.out.push('\n');
    }
    p.out
}

struct Printer<'a> {
    src: &'a str,
    comments: &'a [Comment],
    /// Index of the first comment not yet printed.
    next: usize,
    out: String,
    indent: usize,
    /// Source offset of the last thing printed (for blank-line detection).
    last_end: usize,
    /// Nothing printed yet in the current block (no blank line then).
    block_start: bool,
    /// Put a blank line before the next thing even if the source had none.
    force_blank: bool,
}

impl Printer<'_> {
    fn comment_text(&self, c: &Comment) -> &str {
        c.span.text(self.src).trim_end()
    }

    /// A blank line before whatever starts at `pos`, if the source had one.
    fn gap(&mut self, pos: usize) {
        let blank = self.src.get(self.last_end.min(pos)..pos).is_some_and(|between| between.matches('\n').count() >= 2);
        if !self.block_start && (blank || self.force_blank) {
            self.out.push('\n');
        }
        self.block_start = false;
        self.force_blank = false;
    }

    /// Prints every comment that starts before `pos` on lines of their own.
    fn comments_before(&mut self, pos: usize) {
        while let Some(c) = self.comments.get(self.next).copied() {
            if c.span.start() >= pos {
                break;
            }
            self.gap(c.span.start());
            let text = self.comment_text(&c).to_owned();
            self.line(&text);
            self.out.push('\n');
            // A comment moved out of a statement ends before that statement:
            // never move `last_end` backwards, or a blank line would appear.
            self.last_end = self.last_end.max(c.span.end());
            self.next += 1;
        }
    }

    /// Prepares for an item starting at `pos`: comments, then a blank line.
    fn before(&mut self, pos: usize) {
        self.comments_before(pos);
        self.gap(pos);
    }

    /// Ends the current line, keeping a comment that followed `pos` on the
    /// same source line (and starts before `limit`) as a trailing comment.
    fn after(&mut self, pos: usize, limit: usize) {
        self.last_end = self.last_end.max(pos);
        if let Some(c) = self.comments.get(self.next).copied() {
            // Only separators may stand between: a comment after a later
            // statement on the line (`deny …; allow // why`) trails that one.
            let same_line = c.span.start() >= pos
                && c.span.start() < limit
                && self
                    .src
                    .get(pos..c.span.start())
                    .is_some_and(|between| between.chars().all(|ch| ch == ';' || (ch.is_whitespace() && ch != '\n')));
            if same_line {
                let text = self.comment_text(&c).to_owned();
                self.out.push_str("  ");
                self.out.push_str(&text);
                self.last_end = c.span.end();
                self.next += 1;
            }
        }
        self.out.push('\n');
    }

    fn line(&mut self, text: &str) {
        for _ in 0..self.indent {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
    }

    /// A one-line item.
    fn simple(&mut self, span: Span, text: &str) {
        self.before(span.start());
        self.line(text);
        self.after(span.end(), usize::MAX);
    }

    /// A block item: `head {`, the children printed by `children`, `}`.
    fn block(
        &mut self,
        span: Span,
        head: &str,
        body: Span,
        first_child: Option<usize>,
        children: impl FnOnce(&mut Self),
    ) {
        let inner_comment = self
            .comments
            .get(self.next..)
            .unwrap_or(&[])
            .iter()
            .any(|c| c.span.start() > body.start() && c.span.start() < body.end());
        if first_child.is_none() && !inner_comment {
            self.simple(span, &format!("{head} {{}}"));
            return;
        }
        self.before(span.start());
        self.line(&format!("{head} {{"));
        let open_end = body.start() + 1;
        self.after(open_end, first_child.unwrap_or(body.end()));
        self.indent += 1;
        self.block_start = true;
        children(self);
        // Comments after the last child, before `}`.
        self.comments_before(body.end().saturating_sub(1));
        self.indent -= 1;
        self.block_start = false;
        self.line("}");
        self.after(span.end(), usize::MAX);
    }

    /// Prints the comments left at the end of the file.
    fn rest(&mut self, end: usize) {
        self.comments_before(end + 1);
    }

    // ------------------------------------------------------------ declarations

    fn decl(&mut self, decl: &Decl) {
        match decl {
            Decl::Zone(z) => self.zone(z),
            Decl::Limit(l) => self.simple(l.span, &limit(l)),
            Decl::Ban(b) => self.simple(b.span, &ban(b)),
            Decl::Schema(s) => self.schema(s),
            Decl::Data(d) => self.simple(d.span, &format!("data {} = file {}", d.name.name, quote(&d.path.value))),
            Decl::Api(a) => self.api(a),
            Decl::Resource(r) => self.resource(r),
            Decl::Exchange(x) => {
                let head = format!("exchange {} from zone {}", x.name.name, x.zone.name);
                self.stmt_block(x.span, &head, x.body, &x.stmts);
            }
            Decl::Test(t) => self.test(t),
        }
    }

    fn zone(&mut self, zone: &Zone) {
        let first = zone.items.first().map(|i| i.span.start());
        self.block(zone.span, &format!("zone {}", zone.name.name), zone.body, first, |p| {
            for item in &zone.items {
                match &item.node {
                    ZoneItem::Issuer(issuer) => p.issuer(issuer),
                    ZoneItem::RequireTls => p.simple(item.span, "require tls"),
                    ZoneItem::RequireBound => p.simple(item.span, "require bound"),
                    ZoneItem::RequireMtls { peers } if peers.is_empty() => p.simple(item.span, "require mtls"),
                    ZoneItem::RequireMtls { peers } => {
                        p.simple(item.span, &format!("require mtls peer {}", strs(peers)))
                    }
                    ZoneItem::Network { cidrs } => p.simple(item.span, &format!("network {}", strs(cidrs))),
                }
            }
        });
    }

    fn issuer(&mut self, issuer: &Issuer) {
        let first = issuer.items.first().map(|i| i.span.start());
        self.block(issuer.span, &format!("issuer {}", quote(&issuer.url.value)), issuer.body, first, |p| {
            for item in &issuer.items {
                let text = match &item.node {
                    IssuerItem::JwksFile(path) => format!("jwks file {}", quote(&path.value)),
                    IssuerItem::JwksUrl { url, refresh: None } => format!("jwks url {}", quote(&url.value)),
                    IssuerItem::JwksUrl { url, refresh: Some(d) } => {
                        format!("jwks url {} refresh {}", quote(&url.value), duration(d))
                    }
                    IssuerItem::Audience(values) => format!("audience {}", strs(values)),
                    IssuerItem::Algorithms(algs) => {
                        format!("algorithms {}", algs.iter().map(|a| a.node.as_str()).collect::<Vec<_>>().join(", "))
                    }
                    IssuerItem::Leeway(d) => format!("leeway {}", duration(d)),
                    IssuerItem::ScopesFrom(claim) => format!("scopes from {}", quote(&claim.value)),
                    IssuerItem::SecretFile(path) => format!("secret file {}", quote(&path.value)),
                    IssuerItem::SecretEnv(var) => format!("secret env {}", quote(&var.value)),
                    IssuerItem::Introspect {
                        url,
                        client,
                        secret_in_file,
                        secret,
                        cache,
                        always,
                        signed,
                        stale,
                        stale_for,
                    } => {
                        format!(
                            "introspect url {} client {} secret {} {}{}{}{}{}",
                            quote(&url.value),
                            quote(&client.value),
                            if *secret_in_file { "file" } else { "env" },
                            quote(&secret.value),
                            cache.as_ref().map(|d| format!(" cache {}", duration(d))).unwrap_or_default(),
                            if *always { " always" } else { "" },
                            if *signed { " signed" } else { "" },
                            match (stale, stale_for) {
                                (true, Some(d)) => format!(" on_introspection_error stale {}", duration(d)),
                                (true, None) => " on_introspection_error stale".to_owned(),
                                (false, _) => String::new(),
                            },
                        )
                    }
                };
                p.simple(item.span, &text);
            }
        });
    }

    fn schema(&mut self, schema: &Schema) {
        let head = format!("schema {}{}", schema.name.name, if schema.open { " open" } else { "" });
        let first = schema.fields.first().map(|f| f.span.start());
        self.block(schema.span, &head, schema.body, first, |p| {
            for field in &schema.fields {
                let text =
                    format!("{}{}: {}", key(&field.name), if field.optional { "?" } else { "" }, type_expr(&field.ty));
                p.simple(field.span, &text);
            }
        });
    }

    fn api(&mut self, api: &Api) {
        let head = format!("api {} in zone {}", api.name.name, api.zone.name);
        let first = api.items.first().map(|i| i.span().start());
        self.block(api.span, &head, api.body, first, |p| {
            for item in &api.items {
                match item {
                    ApiItem::Host(h) => p.simple(h.span, &format!("host {}", quote(&h.node.value))),
                    ApiItem::Prefix(h) => p.simple(h.span, &format!("prefix {}", quote(&h.node.value))),
                    ApiItem::Route(route) => {
                        let head = format!("route {} {}", route.method.node.as_str(), quote(&route.path.value));
                        p.stmt_block(route.span, &head, route.body, &route.stmts);
                    }
                    ApiItem::Stmt(stmt) => p.stmt(stmt),
                }
            }
        });
    }

    fn stmt_block(&mut self, span: Span, head: &str, body: Span, stmts: &[Stmt]) {
        let first = stmts.first().map(|s| s.span.start());
        self.block(span, head, body, first, |p| {
            for stmt in stmts {
                p.stmt(stmt);
            }
        });
    }

    /// A statement: one line, or a `mint` with its block.
    fn stmt(&mut self, stmt: &Stmt) {
        let StmtKind::Mint(mint) = &stmt.node else { return self.simple(stmt.span, &stmt_text(stmt)) };
        let Some(body) = mint.body else { return self.simple(stmt.span, &stmt_text(stmt)) };
        let first = mint.items.first().map(|i| i.span.start());
        self.block(stmt.span, &stmt_text(stmt), body, first, |p| {
            for item in &mint.items {
                let text = match &item.node {
                    MintItem::Claim { name, value } => format!("claim {} = {}", key(name), expr(value)),
                    MintItem::Scope(scopes) => format!("scope {}", strs(scopes)),
                    MintItem::Lifetime(d) => format!("lifetime {}", duration(d)),
                    MintItem::Header(name) => format!("header {}", quote(&name.value)),
                    MintItem::Bind(t) => format!("bind certificate {}", quote(&t.value)),
                };
                p.simple(item.span, &text);
            }
        });
    }

    fn resource(&mut self, resource: &Resource) {
        let head = format!("resource {} in zone {}", resource.name.name, resource.zone.name);
        let first = resource.items.first().map(|i| i.span().start());
        self.block(resource.span, &head, resource.body, first, |p| {
            for item in &resource.items {
                match item {
                    ResourceItem::Action(action) => {
                        let head = format!("action {}", action.name.name);
                        p.stmt_block(action.span, &head, action.body, &action.stmts);
                    }
                    ResourceItem::Stmt(stmt) => p.stmt(stmt),
                }
            }
        });
    }

    fn test(&mut self, test: &Test) {
        let head = format!("test {}", quote(&test.name.value));
        self.steps_block(test.span, &head, test.body, &test.steps);
    }

    fn steps_block(&mut self, span: Span, head: &str, body: Span, steps: &[Step]) {
        let first = steps.first().map(|s| s.span.start());
        self.block(span, head, body, first, |p| {
            for step in steps {
                p.step(step);
            }
        });
    }

    fn step(&mut self, step: &Step) {
        match &step.node {
            StepKind::Request(r) => {
                let head = format!("request {} {}", r.method.node.as_str(), quote(&r.url.value));
                let items: Vec<(Span, String)> = r.items.iter().map(|i| (i.span, self.request_item(&i.node))).collect();
                self.item_block(step.span, &head, r.body, &items);
            }
            StepKind::Exchange(x) => {
                let head = format!("exchange {}", quote(&x.audience.value));
                let items: Vec<(Span, String)> = x.items.iter().map(|i| (i.span, self.request_item(&i.node))).collect();
                self.item_block(step.span, &head, x.body, &items);
            }
            StepKind::Check(c) => {
                let head = format!("check {} {}", c.resource_type.name, c.action.name);
                let items: Vec<(Span, String)> = c.items.iter().map(|i| (i.span, self.check_item(&i.node))).collect();
                self.item_block(step.span, &head, c.body, &items);
            }
            StepKind::Expect(e) => {
                let text = match e {
                    Expectation::Allow => "expect allow".to_owned(),
                    Expectation::Deny { status, reason } => {
                        let mut t = "expect deny".to_owned();
                        if let Some(s) = status {
                            t.push_str(&format!(" {}", s.node));
                        }
                        if let Some(r) = reason {
                            t.push_str(&format!(" {}", r.node));
                        }
                        t
                    }
                    Expectation::Header { name, value } => {
                        format!("expect header {} = {}", quote(&name.value), quote(&value.value))
                    }
                };
                self.simple(step.span, &text);
            }
            StepKind::Repeat { count, steps, body } => {
                self.steps_block(step.span, &format!("repeat {}", count.node), *body, steps);
            }
            StepKind::Wait(d) => self.simple(step.span, &format!("wait {}", duration(d))),
        }
    }

    /// A request or check: a header line, with a block only when it has settings.
    fn item_block(&mut self, span: Span, head: &str, body: Option<Span>, items: &[(Span, String)]) {
        match body {
            Some(body) if !items.is_empty() => {
                let first = items.first().map(|(s, _)| s.start());
                self.block(span, head, body, first, |p| {
                    for (item_span, text) in items {
                        p.simple(*item_span, text);
                    }
                });
            }
            _ => self.simple(span, head),
        }
    }

    fn request_item(&self, item: &RequestItem) -> String {
        let depth = self.indent + 1;
        match item {
            RequestItem::Ip(s) => format!("ip {}", quote(&s.value)),
            RequestItem::Peer(s) => format!("peer {}", quote(&s.value)),
            RequestItem::Certificate(s) => format!("certificate {}", quote(&s.value)),
            RequestItem::Dpop => "dpop".to_owned(),
            RequestItem::Header { name, value } => format!("header {} = {}", quote(&name.value), quote(&value.value)),
            RequestItem::Json(v) => format!("json {}", value(v, depth)),
            RequestItem::Body { text, content_type: None } => format!("body {}", quote(&text.value)),
            RequestItem::Body { text, content_type: Some(ct) } => {
                format!("body {} content_type {}", quote(&text.value), quote(&ct.value))
            }
            RequestItem::Basic { client, secret } => {
                format!("basic {}, {}", quote(&client.value), quote(&secret.value))
            }
            RequestItem::Token(t) => token(t, depth),
        }
    }

    fn check_item(&self, item: &CheckItem) -> String {
        let depth = self.indent + 1;
        let with_props = |word: &str, id: &Str, props: &Option<Value>| match props {
            Some(v) => format!("{word} {} {}", quote(&id.value), value(v, depth)),
            None => format!("{word} {}", quote(&id.value)),
        };
        match item {
            CheckItem::Ip(s) => format!("ip {}", quote(&s.value)),
            CheckItem::Peer(s) => format!("peer {}", quote(&s.value)),
            CheckItem::Subject { id, properties } => with_props("subject", id, properties),
            CheckItem::Resource { id, properties } => with_props("resource", id, properties),
            CheckItem::Context(v) => format!("context {}", value(v, depth)),
            CheckItem::Token(t) => token(t, depth),
        }
    }
}

fn token(t: &TokenSpec, depth: usize) -> String {
    let mut out = "token".to_owned();
    if let Some(v) = &t.variant {
        match &v.node {
            TokenVariant::Expired => out.push_str(" expired"),
            TokenVariant::NotYetValid => out.push_str(" not_yet_valid"),
            TokenVariant::WrongKey => out.push_str(" wrong_key"),
            TokenVariant::Alg(a) => out.push_str(&format!(" alg {}", quote(&a.value))),
            TokenVariant::Raw(r) => out.push_str(&format!(" raw {}", quote(&r.value))),
        }
    }
    if let Some(c) = &t.claims {
        out.push(' ');
        out.push_str(&value(c, depth));
    }
    out
}

fn limit(l: &Limit) -> String {
    let mut out = format!("limit {} = {} per {}", l.name.name, l.count.node, duration(&l.period));
    if let Some(b) = &l.burst {
        out.push_str(&format!(" burst {}", b.node));
    }
    out.push_str(" by ");
    out.push_str(&l.keys.iter().map(expr).collect::<Vec<_>>().join(", "));
    if let Some(p) = &l.ipv6_prefix {
        out.push_str(&format!(" ipv6_prefix {}", p.node));
    }
    if let Some(policy) = &l.on_backend_error {
        out.push_str(match policy.node {
            BackendErrorPolicy::Allow => " on_backend_error allow",
            BackendErrorPolicy::Deny => " on_backend_error deny",
        });
    }
    out
}

fn ban(b: &Ban) -> String {
    let outcomes: Vec<String> = b
        .outcomes
        .iter()
        .map(|o| match &o.node {
            Outcome::Status(s) => s.to_string(),
            Outcome::Reason(r) => r.clone(),
        })
        .collect();
    let mut out = format!("ban {} = {}", b.name.name, b.count.node);
    if let Some(d) = &b.distinct {
        out.push_str(&format!(" distinct {}", expr(d)));
    }
    if !outcomes.is_empty() {
        out.push_str(&format!(" of {}", outcomes.join(", ")));
    }
    out.push_str(&format!(
        " per {} by {}",
        duration(&b.period),
        b.keys.iter().map(expr).collect::<Vec<_>>().join(", ")
    ));
    if let Some(p) = &b.ipv6_prefix {
        out.push_str(&format!(" ipv6_prefix {}", p.node));
    }
    if b.alert_only {
        out.push_str(" alert");
    } else {
        if let Some(length) = &b.length {
            out.push_str(&format!(" for {}", duration(length)));
        }
        if let Some(m) = &b.max {
            out.push_str(&format!(" max {}", duration(m)));
        }
        if let Some(s) = &b.status {
            out.push_str(&format!(" status {}", s.node));
        }
    }
    if !b.except.is_empty() {
        out.push_str(&format!(" except {}", strs(&b.except)));
    }
    if let Some(policy) = &b.on_backend_error {
        out.push_str(match policy.node {
            BackendErrorPolicy::Allow => " on_backend_error allow",
            BackendErrorPolicy::Deny => " on_backend_error deny",
        });
    }
    out
}

fn type_expr(t: &TypeExpr) -> String {
    let mut out = match &t.kind {
        TypeKind::Named(name) => name.name.clone(),
        TypeKind::Enum(values) => format!("enum {}", strs(values)),
        TypeKind::Array(inner) => format!("[{}]", type_expr(inner)),
    };
    for c in &t.constraints {
        out.push(' ');
        out.push_str(c.node.keyword());
        out.push(' ');
        match &c.node {
            Constraint::Min(n) | Constraint::Max(n) => out.push_str(&n.raw),
            Constraint::MinLen(n) | Constraint::MaxLen(n) | Constraint::MinItems(n) | Constraint::MaxItems(n) => {
                out.push_str(&n.to_string());
            }
            Constraint::Pattern(s) => out.push_str(&quote(&s.value)),
            Constraint::Format(f) => out.push_str(f.as_str()),
        }
    }
    out
}

fn stmt_text(stmt: &Stmt) -> String {
    match &stmt.node {
        StmtKind::Auth(method) => match method {
            AuthMethod::ClientSecret { file } => format!("auth client_secret file {}", quote(&file.value)),
            AuthMethod::ApiKey { header, file } => {
                format!("auth api_key header {} file {}", quote(&header.value), quote(&file.value))
            }
            other => format!("auth {}", other.keyword()),
        },
        StmtKind::Scope { any: true, scopes } => format!("scope any {}", strs(scopes)),
        StmtKind::Scope { any: false, scopes } => format!("scope {}", strs(scopes)),
        StmtKind::Limit(names) => {
            format!("limit {}", names.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(", "))
        }
        StmtKind::Ban(names) => {
            format!("ban {}", names.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(", "))
        }
        StmtKind::Body(spec) => {
            let max = |m: &Option<Size>| m.as_ref().map(|s| format!(" max {}", size(s))).unwrap_or_default();
            match spec {
                BodySpec::Json { schema, max: m } => format!(
                    "body json{}{}",
                    schema.as_ref().map(|s| format!(" {}", s.name)).unwrap_or_default(),
                    max(m)
                ),
                BodySpec::Any { max: m } => format!("body any{}", max(m)),
                BodySpec::None => "body none".to_owned(),
            }
        }
        StmtKind::Allow(None) => "allow".to_owned(),
        StmtKind::Allow(Some(e)) => format!("allow when {}", expr(e)),
        StmtKind::Deny(e) => format!("deny when {}", expr(e)),
        StmtKind::UpstreamHeader { name, value } => format!("upstream header {} = {}", quote(&name.value), expr(value)),
        // The head only: the block is printed by the caller.
        StmtKind::Mint(mint) => format!("mint for zone {}", mint.zone.name),
    }
}

/// Prints an expression exactly as its tree says (parentheses included).
pub fn expr(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Str(s) => quote(s),
        ExprKind::Number { raw, .. } => raw.clone(),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::List(items) => format!("[{}]", items.iter().map(expr).collect::<Vec<_>>().join(", ")),
        ExprKind::Attr { root, path } => format!("{}{}", root.node.as_str(), segments(path)),
        ExprKind::Access { base, path } => format!("{}{}", expr(base), segments(path)),
        ExprKind::Call { func, args } => {
            format!("{}({})", func.node.as_str(), args.iter().map(expr).collect::<Vec<_>>().join(", "))
        }
        ExprKind::Not(inner) => format!("not {}", expr(inner)),
        ExprKind::And(items) => items.iter().map(expr).collect::<Vec<_>>().join(" and "),
        ExprKind::Or(items) => items.iter().map(expr).collect::<Vec<_>>().join(" or "),
        ExprKind::Compare { op, lhs, rhs } => format!("{} {} {}", expr(lhs), op.node.as_str(), expr(rhs)),
        ExprKind::Paren(inner) => format!("({})", expr(inner)),
    }
}

fn segments(path: &[Segment]) -> String {
    let mut out = String::new();
    for seg in path {
        match &seg.kind {
            SegmentKind::Field(name) => {
                out.push('.');
                out.push_str(name);
            }
            SegmentKind::Index(e) => {
                out.push('[');
                out.push_str(&expr(e));
                out.push(']');
            }
        }
    }
    out
}

/// A test value: inline when short, otherwise one entry per line.
fn value(v: &Value, depth: usize) -> String {
    let inline = value_inline(v);
    if inline.len() + depth * 2 <= INLINE_VALUE_WIDTH {
        return inline;
    }
    let pad = "  ".repeat(depth + 1);
    let close = "  ".repeat(depth);
    match &v.kind {
        ValueKind::Object(entries) if !entries.is_empty() => {
            let lines: Vec<String> =
                entries.iter().map(|(k, val)| format!("{pad}{}: {},", key(k), value(val, depth + 1))).collect();
            format!("{{\n{}\n{close}}}", lines.join("\n"))
        }
        ValueKind::Array(items) if !items.is_empty() => {
            let lines: Vec<String> = items.iter().map(|val| format!("{pad}{},", value(val, depth + 1))).collect();
            format!("[\n{}\n{close}]", lines.join("\n"))
        }
        _ => inline,
    }
}

fn value_inline(v: &Value) -> String {
    match &v.kind {
        ValueKind::Str(s) => quote(s),
        ValueKind::Number { raw, .. } => raw.clone(),
        ValueKind::Bool(b) => b.to_string(),
        ValueKind::Null => "null".to_owned(),
        ValueKind::Array(items) => format!("[{}]", items.iter().map(value_inline).collect::<Vec<_>>().join(", ")),
        ValueKind::Object(entries) if entries.is_empty() => "{}".to_owned(),
        ValueKind::Object(entries) => format!(
            "{{ {} }}",
            entries.iter().map(|(k, val)| format!("{}: {}", key(k), value_inline(val))).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn key(k: &Key) -> String {
    if k.quoted || !is_identifier(&k.name) { quote(&k.name) } else { k.name.clone() }
}

fn strs(values: &[Str]) -> String {
    values.iter().map(|s| quote(&s.value)).collect::<Vec<_>>().join(", ")
}

fn duration(d: &Duration) -> String {
    format!("{}{}", d.value, d.unit.suffix())
}

fn size(s: &Size) -> String {
    format!("{}{}", s.value, s.unit.suffix())
}

/// A string literal with JSON escapes.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
