//! The one AST walker: a [`Visit`] trait with a method per node kind, whose defaults
//! call the free `walk_*` functions that visit a node's children in source order.
//!
//! Override the nodes you care about and call the matching `walk_*` to keep
//! descending (as in `syn::visit`); validation and the language server share
//! this walk. Recursion follows the tree, so it is bounded by the input's
//! bracket depth like every other pass (ARCHITECTURE.md).
//!
//! ```
//! use warden_language::ast::{Ident, Visit};
//!
//! /// Every identifier, in source order.
//! struct Names<'a>(Vec<&'a str>);
//!
//! impl<'a> Visit<'a> for Names<'a> {
//!     fn visit_ident(&mut self, ident: &'a Ident) {
//!         self.0.push(&ident.name);
//!     }
//! }
//!
//! let parsed = warden_language::parse("limit per_ip = 5 per 1m by source.ip\n");
//! let mut names = Names(Vec::new());
//! names.visit_file(&parsed.file);
//! assert_eq!(names.0, ["per_ip"]);
//! ```

use super::{
    Action, Api, ApiItem, AuthMethod, Ban, BodySpec, Check, CheckItem, Constraint, Data, Decl, Doc, Duration, Exchange,
    Expectation, Expr, ExprKind, Field, File, Ident, Issuer, IssuerItem, Key, Limit, MintItem, Number, Request,
    RequestItem, Resource, ResourceItem, Route, Schema, Segment, SegmentKind, Size, Spanned, Step, StepKind, Stmt,
    StmtKind, Str, Test, TokenSpec, TokenVariant, TypeExpr, TypeKind, Value, ValueKind, Zone, ZoneItem,
};

/// A read-only walk over the AST. Every method's default visits the node's
/// children in source order through the `walk_*` function of the same name;
/// the leaves (`visit_ident`, `visit_str`, …) do nothing by default.
pub trait Visit<'a> {
    /// A whole file: its declarations in order.
    fn visit_file(&mut self, file: &'a File) {
        walk_file(self, file);
    }

    /// Any declaration: dispatches to `visit_zone`, `visit_limit`, ….
    fn visit_decl(&mut self, decl: &'a Decl) {
        walk_decl(self, decl);
    }

    /// `zone NAME { … }`.
    fn visit_zone(&mut self, zone: &'a Zone) {
        walk_zone(self, zone);
    }

    /// One item of a zone block.
    fn visit_zone_item(&mut self, item: &'a Spanned<ZoneItem>) {
        walk_zone_item(self, item);
    }

    /// `issuer "URL" { … }`.
    fn visit_issuer(&mut self, issuer: &'a Issuer) {
        walk_issuer(self, issuer);
    }

    /// One setting of an issuer.
    fn visit_issuer_item(&mut self, item: &'a Spanned<IssuerItem>) {
        walk_issuer_item(self, item);
    }

    /// `limit NAME = …`.
    fn visit_limit(&mut self, limit: &'a Limit) {
        walk_limit(self, limit);
    }

    /// `ban NAME = …`.
    fn visit_ban(&mut self, ban: &'a Ban) {
        walk_ban(self, ban);
    }

    /// `schema NAME { … }`.
    fn visit_schema(&mut self, schema: &'a Schema) {
        walk_schema(self, schema);
    }

    /// One field of a schema.
    fn visit_field(&mut self, field: &'a Field) {
        walk_field(self, field);
    }

    /// A schema type with its constraints.
    fn visit_type_expr(&mut self, ty: &'a TypeExpr) {
        walk_type_expr(self, ty);
    }

    /// One constraint of a schema type.
    fn visit_constraint(&mut self, constraint: &'a Spanned<Constraint>) {
        walk_constraint(self, constraint);
    }

    /// `data NAME = file "PATH"`.
    fn visit_data(&mut self, data: &'a Data) {
        walk_data(self, data);
    }

    /// `api NAME in zone Z { … }`.
    fn visit_api(&mut self, api: &'a Api) {
        walk_api(self, api);
    }

    /// One item of an api block.
    fn visit_api_item(&mut self, item: &'a ApiItem) {
        walk_api_item(self, item);
    }

    /// `route METHOD "PATH" { … }`.
    fn visit_route(&mut self, route: &'a Route) {
        walk_route(self, route);
    }

    /// `resource TYPE in zone Z { … }`.
    fn visit_resource(&mut self, resource: &'a Resource) {
        walk_resource(self, resource);
    }

    /// `exchange NAME from zone Z { … }`.
    fn visit_exchange(&mut self, exchange: &'a Exchange) {
        walk_exchange(self, exchange);
    }

    /// One item of a resource block.
    fn visit_resource_item(&mut self, item: &'a ResourceItem) {
        walk_resource_item(self, item);
    }

    /// `action NAME { … }`.
    fn visit_action(&mut self, action: &'a Action) {
        walk_action(self, action);
    }

    /// A statement of a route, action, api or resource.
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        walk_stmt(self, stmt);
    }

    /// An expression.
    fn visit_expr(&mut self, expr: &'a Expr) {
        walk_expr(self, expr);
    }

    /// A `.name` or `[expr]` after an attribute root or another expression.
    fn visit_segment(&mut self, segment: &'a Segment) {
        walk_segment(self, segment);
    }

    /// `test "NAME" { … }`.
    fn visit_test(&mut self, test: &'a Test) {
        walk_test(self, test);
    }

    /// One step of a test.
    fn visit_step(&mut self, step: &'a Step) {
        walk_step(self, step);
    }

    /// `request METHOD "URL" { … }`.
    fn visit_request(&mut self, request: &'a Request) {
        walk_request(self, request);
    }

    /// One setting of a test request.
    fn visit_request_item(&mut self, item: &'a Spanned<RequestItem>) {
        walk_request_item(self, item);
    }

    /// `check TYPE ACTION { … }`.
    fn visit_check(&mut self, check: &'a Check) {
        walk_check(self, check);
    }

    /// One setting of a test resource check.
    fn visit_check_item(&mut self, item: &'a Spanned<CheckItem>) {
        walk_check_item(self, item);
    }

    /// `token [variant] [{ claims }]`.
    fn visit_token(&mut self, token: &'a TokenSpec) {
        walk_token(self, token);
    }

    /// `expect …`.
    fn visit_expectation(&mut self, expectation: &'a Expectation) {
        walk_expectation(self, expectation);
    }

    /// A JSON-like value of a test.
    fn visit_value(&mut self, value: &'a Value) {
        walk_value(self, value);
    }

    /// A doc comment (visited before the node it documents).
    fn visit_doc(&mut self, _doc: &'a Doc) {}

    /// An identifier: a declared name or a use of one.
    fn visit_ident(&mut self, _ident: &'a Ident) {}

    /// A string literal outside expressions (expression strings are [`ExprKind::Str`]).
    fn visit_str(&mut self, _s: &'a Str) {}

    /// A schema field's name or a key of a test object.
    fn visit_key(&mut self, _key: &'a Key) {}

    /// A number literal of a schema constraint.
    fn visit_number(&mut self, _number: &'a Number) {}

    /// A duration literal.
    fn visit_duration(&mut self, _duration: &'a Duration) {}

    /// A size literal.
    fn visit_size(&mut self, _size: &'a Size) {}
}

/// Visits each declaration of `file`.
pub fn walk_file<'a, V: Visit<'a> + ?Sized>(v: &mut V, file: &'a File) {
    for decl in &file.decls {
        v.visit_decl(decl);
    }
}

/// Dispatches to the method of the declaration's kind.
pub fn walk_decl<'a, V: Visit<'a> + ?Sized>(v: &mut V, decl: &'a Decl) {
    match decl {
        Decl::Zone(d) => v.visit_zone(d),
        Decl::Limit(d) => v.visit_limit(d),
        Decl::Ban(d) => v.visit_ban(d),
        Decl::Schema(d) => v.visit_schema(d),
        Decl::Data(d) => v.visit_data(d),
        Decl::Api(d) => v.visit_api(d),
        Decl::Resource(d) => v.visit_resource(d),
        Decl::Exchange(d) => v.visit_exchange(d),
        Decl::Test(d) => v.visit_test(d),
    }
}

fn walk_doc<'a, V: Visit<'a> + ?Sized>(v: &mut V, doc: &'a Option<Doc>) {
    if let Some(doc) = doc {
        v.visit_doc(doc);
    }
}

fn walk_strs<'a, V: Visit<'a> + ?Sized>(v: &mut V, strs: &'a [Str]) {
    for s in strs {
        v.visit_str(s);
    }
}

fn walk_stmts<'a, V: Visit<'a> + ?Sized>(v: &mut V, stmts: &'a [Stmt]) {
    for stmt in stmts {
        v.visit_stmt(stmt);
    }
}

fn walk_exprs<'a, V: Visit<'a> + ?Sized>(v: &mut V, exprs: &'a [Expr]) {
    for expr in exprs {
        v.visit_expr(expr);
    }
}

/// Doc, name, then the zone's items.
pub fn walk_zone<'a, V: Visit<'a> + ?Sized>(v: &mut V, zone: &'a Zone) {
    walk_doc(v, &zone.doc);
    v.visit_ident(&zone.name);
    for item in &zone.items {
        v.visit_zone_item(item);
    }
}

/// An issuer block, or the strings of `require mtls peer …` and `network …`.
pub fn walk_zone_item<'a, V: Visit<'a> + ?Sized>(v: &mut V, item: &'a Spanned<ZoneItem>) {
    match &item.node {
        ZoneItem::Issuer(issuer) => v.visit_issuer(issuer),
        ZoneItem::RequireTls | ZoneItem::RequireBound => {}
        ZoneItem::RequireMtls { peers } => walk_strs(v, peers),
        ZoneItem::Network { cidrs } => walk_strs(v, cidrs),
    }
}

/// Doc, URL, then the settings.
pub fn walk_issuer<'a, V: Visit<'a> + ?Sized>(v: &mut V, issuer: &'a Issuer) {
    walk_doc(v, &issuer.doc);
    v.visit_str(&issuer.url);
    for item in &issuer.items {
        v.visit_issuer_item(item);
    }
}

/// The strings and durations of one issuer setting.
pub fn walk_issuer_item<'a, V: Visit<'a> + ?Sized>(v: &mut V, item: &'a Spanned<IssuerItem>) {
    match &item.node {
        IssuerItem::Introspect { url, client, secret, cache, stale_for, .. } => {
            v.visit_str(url);
            v.visit_str(client);
            v.visit_str(secret);
            for d in cache.iter().chain(stale_for) {
                v.visit_duration(d);
            }
        }
        IssuerItem::JwksFile(s) | IssuerItem::ScopesFrom(s) | IssuerItem::SecretFile(s) | IssuerItem::SecretEnv(s) => {
            v.visit_str(s);
        }
        IssuerItem::JwksUrl { url, refresh } => {
            v.visit_str(url);
            if let Some(refresh) = refresh {
                v.visit_duration(refresh);
            }
        }
        IssuerItem::Audience(values) => walk_strs(v, values),
        IssuerItem::Algorithms(_) => {}
        IssuerItem::Leeway(d) => v.visit_duration(d),
    }
}

/// Doc, name, period, then the key expressions.
pub fn walk_limit<'a, V: Visit<'a> + ?Sized>(v: &mut V, limit: &'a Limit) {
    walk_doc(v, &limit.doc);
    v.visit_ident(&limit.name);
    v.visit_duration(&limit.period);
    walk_exprs(v, &limit.keys);
}

/// Doc, name, the durations, the key expressions and the exempt networks.
pub fn walk_ban<'a, V: Visit<'a> + ?Sized>(v: &mut V, ban: &'a Ban) {
    walk_doc(v, &ban.doc);
    v.visit_ident(&ban.name);
    if let Some(d) = &ban.distinct {
        v.visit_expr(d);
    }
    v.visit_duration(&ban.period);
    walk_exprs(v, &ban.keys);
    if let Some(length) = &ban.length {
        v.visit_duration(length);
    }
    if let Some(m) = &ban.max {
        v.visit_duration(m);
    }
    walk_strs(v, &ban.except);
}

/// Doc, name, then the fields.
pub fn walk_schema<'a, V: Visit<'a> + ?Sized>(v: &mut V, schema: &'a Schema) {
    walk_doc(v, &schema.doc);
    v.visit_ident(&schema.name);
    for field in &schema.fields {
        v.visit_field(field);
    }
}

/// Doc, name, then the type.
pub fn walk_field<'a, V: Visit<'a> + ?Sized>(v: &mut V, field: &'a Field) {
    walk_doc(v, &field.doc);
    v.visit_key(&field.name);
    v.visit_type_expr(&field.ty);
}

/// The type (a name, enum values or an element type), then its constraints.
pub fn walk_type_expr<'a, V: Visit<'a> + ?Sized>(v: &mut V, ty: &'a TypeExpr) {
    match &ty.kind {
        TypeKind::Named(name) => v.visit_ident(name),
        TypeKind::Enum(values) => walk_strs(v, values),
        TypeKind::Array(inner) => v.visit_type_expr(inner),
    }
    for constraint in &ty.constraints {
        v.visit_constraint(constraint);
    }
}

/// The number or pattern of a constraint.
pub fn walk_constraint<'a, V: Visit<'a> + ?Sized>(v: &mut V, constraint: &'a Spanned<Constraint>) {
    match &constraint.node {
        Constraint::Min(n) | Constraint::Max(n) => v.visit_number(n),
        Constraint::Pattern(s) => v.visit_str(s),
        Constraint::MinLen(_)
        | Constraint::MaxLen(_)
        | Constraint::MinItems(_)
        | Constraint::MaxItems(_)
        | Constraint::Format(_) => {}
    }
}

/// Doc, name, then the path.
pub fn walk_data<'a, V: Visit<'a> + ?Sized>(v: &mut V, data: &'a Data) {
    walk_doc(v, &data.doc);
    v.visit_ident(&data.name);
    v.visit_str(&data.path);
}

/// Doc, name, zone, then the items.
pub fn walk_api<'a, V: Visit<'a> + ?Sized>(v: &mut V, api: &'a Api) {
    walk_doc(v, &api.doc);
    v.visit_ident(&api.name);
    v.visit_ident(&api.zone);
    for item in &api.items {
        v.visit_api_item(item);
    }
}

/// `host`/`prefix` strings, a route or a statement.
pub fn walk_api_item<'a, V: Visit<'a> + ?Sized>(v: &mut V, item: &'a ApiItem) {
    match item {
        ApiItem::Host(s) | ApiItem::Prefix(s) => v.visit_str(&s.node),
        ApiItem::Route(route) => v.visit_route(route),
        ApiItem::Stmt(stmt) => v.visit_stmt(stmt),
    }
}

/// Doc, path, then the statements.
pub fn walk_route<'a, V: Visit<'a> + ?Sized>(v: &mut V, route: &'a Route) {
    walk_doc(v, &route.doc);
    v.visit_str(&route.path);
    walk_stmts(v, &route.stmts);
}

/// Doc, name, zone, then the items.
pub fn walk_resource<'a, V: Visit<'a> + ?Sized>(v: &mut V, resource: &'a Resource) {
    walk_doc(v, &resource.doc);
    v.visit_ident(&resource.name);
    v.visit_ident(&resource.zone);
    for item in &resource.items {
        v.visit_resource_item(item);
    }
}

/// An action or a statement.
pub fn walk_resource_item<'a, V: Visit<'a> + ?Sized>(v: &mut V, item: &'a ResourceItem) {
    match item {
        ResourceItem::Action(action) => v.visit_action(action),
        ResourceItem::Stmt(stmt) => v.visit_stmt(stmt),
    }
}

/// Doc, name, then the statements.
pub fn walk_action<'a, V: Visit<'a> + ?Sized>(v: &mut V, action: &'a Action) {
    walk_doc(v, &action.doc);
    v.visit_ident(&action.name);
    walk_stmts(v, &action.stmts);
}

/// Doc, name, zone, then the statements.
pub fn walk_exchange<'a, V: Visit<'a> + ?Sized>(v: &mut V, exchange: &'a Exchange) {
    walk_doc(v, &exchange.doc);
    v.visit_ident(&exchange.name);
    v.visit_ident(&exchange.zone);
    walk_stmts(v, &exchange.stmts);
}

/// The strings, names, sizes and expressions of a statement.
pub fn walk_stmt<'a, V: Visit<'a> + ?Sized>(v: &mut V, stmt: &'a Stmt) {
    match &stmt.node {
        StmtKind::Auth(AuthMethod::ClientSecret { file }) => v.visit_str(file),
        StmtKind::Auth(AuthMethod::ApiKey { header, file }) => {
            v.visit_str(header);
            v.visit_str(file);
        }
        StmtKind::Auth(AuthMethod::Bearer | AuthMethod::Mtls | AuthMethod::Asserted | AuthMethod::None) => {}
        StmtKind::Scope { scopes, .. } => walk_strs(v, scopes),
        StmtKind::Limit(names) | StmtKind::Ban(names) => {
            for name in names {
                v.visit_ident(name);
            }
        }
        StmtKind::Body(BodySpec::Json { schema, max }) => {
            if let Some(schema) = schema {
                v.visit_ident(schema);
            }
            if let Some(max) = max {
                v.visit_size(max);
            }
        }
        StmtKind::Body(BodySpec::Any { max: Some(max) }) => v.visit_size(max),
        StmtKind::Body(BodySpec::Any { max: None } | BodySpec::None) => {}
        StmtKind::Allow(when) => {
            if let Some(when) = when {
                v.visit_expr(when);
            }
        }
        StmtKind::Deny(when) => v.visit_expr(when),
        StmtKind::UpstreamHeader { name, value } => {
            v.visit_str(name);
            v.visit_expr(value);
        }
        StmtKind::Mint(mint) => {
            v.visit_ident(&mint.zone);
            for item in &mint.items {
                match &item.node {
                    MintItem::Claim { name, value } => {
                        v.visit_key(name);
                        v.visit_expr(value);
                    }
                    MintItem::Scope(scopes) => walk_strs(v, scopes),
                    MintItem::Lifetime(d) => v.visit_duration(d),
                    MintItem::Header(name) | MintItem::Bind(name) => v.visit_str(name),
                }
            }
        }
    }
}

/// The sub-expressions, left to right (a base before its segments).
pub fn walk_expr<'a, V: Visit<'a> + ?Sized>(v: &mut V, expr: &'a Expr) {
    match &expr.kind {
        ExprKind::Str(_) | ExprKind::Number { .. } | ExprKind::Bool(_) => {}
        ExprKind::List(items) | ExprKind::And(items) | ExprKind::Or(items) => walk_exprs(v, items),
        ExprKind::Attr { path, .. } => {
            for segment in path {
                v.visit_segment(segment);
            }
        }
        ExprKind::Access { base, path } => {
            v.visit_expr(base);
            for segment in path {
                v.visit_segment(segment);
            }
        }
        ExprKind::Call { args, .. } => walk_exprs(v, args),
        ExprKind::Not(inner) | ExprKind::Paren(inner) => v.visit_expr(inner),
        ExprKind::Compare { lhs, rhs, .. } => {
            v.visit_expr(lhs);
            v.visit_expr(rhs);
        }
    }
}

/// The index expression of `[expr]`.
pub fn walk_segment<'a, V: Visit<'a> + ?Sized>(v: &mut V, segment: &'a Segment) {
    match &segment.kind {
        SegmentKind::Field(_) => {}
        SegmentKind::Index(index) => v.visit_expr(index),
    }
}

/// Doc, name, then the steps.
pub fn walk_test<'a, V: Visit<'a> + ?Sized>(v: &mut V, test: &'a Test) {
    walk_doc(v, &test.doc);
    v.visit_str(&test.name);
    for step in &test.steps {
        v.visit_step(step);
    }
}

/// A request, check or expectation; a repeated block's steps; a wait's duration.
pub fn walk_step<'a, V: Visit<'a> + ?Sized>(v: &mut V, step: &'a Step) {
    match &step.node {
        StepKind::Request(request) => v.visit_request(request),
        StepKind::Check(check) => v.visit_check(check),
        StepKind::Exchange(x) => {
            v.visit_str(&x.audience);
            for item in &x.items {
                v.visit_request_item(item);
            }
        }
        StepKind::Expect(expectation) => v.visit_expectation(expectation),
        StepKind::Repeat { steps, .. } => {
            for step in steps {
                v.visit_step(step);
            }
        }
        StepKind::Wait(d) => v.visit_duration(d),
    }
}

/// URL, then the settings.
pub fn walk_request<'a, V: Visit<'a> + ?Sized>(v: &mut V, request: &'a Request) {
    v.visit_str(&request.url);
    for item in &request.items {
        v.visit_request_item(item);
    }
}

/// The strings, values and token of one request setting.
pub fn walk_request_item<'a, V: Visit<'a> + ?Sized>(v: &mut V, item: &'a Spanned<RequestItem>) {
    match &item.node {
        RequestItem::Ip(s) | RequestItem::Peer(s) | RequestItem::Certificate(s) => v.visit_str(s),
        RequestItem::Header { name, value } => {
            v.visit_str(name);
            v.visit_str(value);
        }
        RequestItem::Json(value) => v.visit_value(value),
        RequestItem::Body { text, content_type } => {
            v.visit_str(text);
            if let Some(content_type) = content_type {
                v.visit_str(content_type);
            }
        }
        RequestItem::Basic { client, secret } => {
            v.visit_str(client);
            v.visit_str(secret);
        }
        RequestItem::Token(token) => v.visit_token(token),
        RequestItem::Dpop => {}
    }
}

/// Resource type, action, then the settings.
pub fn walk_check<'a, V: Visit<'a> + ?Sized>(v: &mut V, check: &'a Check) {
    v.visit_ident(&check.resource_type);
    v.visit_ident(&check.action);
    for item in &check.items {
        v.visit_check_item(item);
    }
}

/// The strings, values and token of one check setting.
pub fn walk_check_item<'a, V: Visit<'a> + ?Sized>(v: &mut V, item: &'a Spanned<CheckItem>) {
    match &item.node {
        CheckItem::Ip(s) | CheckItem::Peer(s) => v.visit_str(s),
        CheckItem::Subject { id, properties } | CheckItem::Resource { id, properties } => {
            v.visit_str(id);
            if let Some(properties) = properties {
                v.visit_value(properties);
            }
        }
        CheckItem::Context(value) => v.visit_value(value),
        CheckItem::Token(token) => v.visit_token(token),
    }
}

/// The variant's string, then the claims.
pub fn walk_token<'a, V: Visit<'a> + ?Sized>(v: &mut V, token: &'a TokenSpec) {
    if let Some(variant) = &token.variant {
        match &variant.node {
            TokenVariant::Alg(s) | TokenVariant::Raw(s) => v.visit_str(s),
            TokenVariant::Expired | TokenVariant::NotYetValid | TokenVariant::WrongKey => {}
        }
    }
    if let Some(claims) = &token.claims {
        v.visit_value(claims);
    }
}

/// The strings of `expect header "NAME" = "VALUE"`.
pub fn walk_expectation<'a, V: Visit<'a> + ?Sized>(v: &mut V, expectation: &'a Expectation) {
    match expectation {
        Expectation::Header { name, value } => {
            v.visit_str(name);
            v.visit_str(value);
        }
        Expectation::Allow | Expectation::Deny { .. } => {}
    }
}

/// The items of an array, the keys and values of an object.
pub fn walk_value<'a, V: Visit<'a> + ?Sized>(v: &mut V, value: &'a Value) {
    match &value.kind {
        ValueKind::Array(items) => {
            for item in items {
                v.visit_value(item);
            }
        }
        ValueKind::Object(entries) => {
            for (key, value) in entries {
                v.visit_key(key);
                v.visit_value(value);
            }
        }
        ValueKind::Str(_) | ValueKind::Number { .. } | ValueKind::Bool(_) | ValueKind::Null => {}
    }
}
