//! The Cedar schema of the export as typed declarations, built from the
//! attributes the translated rules read and printed (`Display`) in Cedar's
//! human-readable schema syntax (`--emit cedar-schema`).

use std::collections::BTreeSet;
use std::fmt::{self, Display, Formatter};

use super::expr::Lit;
use super::translate::{Names, Root};
use super::{NAMESPACE, endpoint_entity, resource_entity};
use crate::graph::Graph;

/// An attribute of the `Value` record: the kind of a JSON value, known only at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tag {
    /// `str: String`
    Str,
    /// `num: Long`
    Num,
    /// `bool: Bool`
    Bool,
    /// `nil: Bool` (always `true`)
    Nil,
    /// `list: { strs, nums, bools, nils, json }`
    List,
    /// `obj: { keys, json }`
    Obj,
}

impl Tag {
    /// Every kind, in the order of the `Value` record.
    pub(super) const ALL: [Tag; 6] = [Tag::Str, Tag::Num, Tag::Bool, Tag::Nil, Tag::List, Tag::Obj];

    /// The attribute name.
    pub(super) fn name(self) -> &'static str {
        match self {
            Tag::Str => "str",
            Tag::Num => "num",
            Tag::Bool => "bool",
            Tag::Nil => "nil",
            Tag::List => "list",
            Tag::Obj => "obj",
        }
    }

    /// The attribute's type.
    fn ty(self) -> Type {
        let set = |t: Type| Type::Set(Box::new(t));
        match self {
            Tag::Str => Type::String,
            Tag::Num => Type::Long,
            Tag::Bool | Tag::Nil => Type::Bool,
            Tag::List => Type::Record(vec![
                Field::required("strs", set(Type::String)),
                Field::required("nums", set(Type::Long)),
                Field::required("bools", set(Type::Bool)),
                Field::required("nils", Type::Bool),
                Field::required("json", Type::String),
            ]),
            Tag::Obj => {
                Type::Record(vec![Field::required("keys", set(Type::String)), Field::required("json", Type::String)])
            }
        }
    }
}

/// `namespace Warden { … }`
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Schema {
    decls: Vec<Decl>,
}

/// One declaration of the namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Decl {
    /// `// text`
    Comment(&'static str),
    /// `type Name = T;`
    Type(&'static str, Type),
    /// `entity Name;` or `entity Name = { … };`
    Entity(String, Option<Vec<Field>>),
    /// `action "id" appliesTo { principal: Subject, resource: R, context: RuleContext };`
    Action { id: String, resource: String },
}

/// A type.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Type {
    String,
    Long,
    Bool,
    Set(Box<Type>),
    Record(Vec<Field>),
    /// A common type or entity type of the namespace.
    Named(&'static str),
}

/// `name: T` or `name?: T`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Field {
    name: FieldName,
    optional: bool,
    ty: Type,
}

/// The export writes the names it reads from the policies, and the fixed
/// attributes of the request context, as strings; the other fixed attributes bare.
#[derive(Clone, Debug, PartialEq, Eq)]
enum FieldName {
    Ident(&'static str),
    Quoted(String),
}

impl Field {
    fn required(name: &'static str, ty: Type) -> Field {
        Field { name: FieldName::Ident(name), optional: false, ty }
    }

    fn quoted(name: &str, optional: bool, ty: Type) -> Field {
        Field { name: FieldName::Quoted(name.to_owned()), optional, ty }
    }
}

/// The schema of the export: the `Value` type, the subject, the resource
/// types with the properties the rules read, the request context and one
/// action per endpoint.
pub(super) fn schema(g: &Graph, names: &Names) -> Schema {
    let value = Type::Record(
        Tag::ALL.iter().map(|t| Field { name: FieldName::Ident(t.name()), optional: true, ty: t.ty() }).collect(),
    );
    let values = |keys: Vec<&String>| {
        Type::Record(keys.into_iter().map(|k| Field::quoted(k, true, Type::Named("Value"))).collect())
    };
    let dynamic = |root: Root, nested: bool| {
        values(
            names.dynamic.iter().filter(|(r, _, p)| *r == root && (p.len() > 1) == nested).map(|(_, k, _)| k).collect(),
        )
    };
    let strings =
        |set: &BTreeSet<String>| Type::Record(set.iter().map(|n| Field::quoted(n, true, Type::String)).collect());

    let mut decls = vec![
        Decl::Comment("A JSON value: exactly one attribute, named after its kind."),
        Decl::Type("Value", value),
        Decl::Entity(
            "Subject".to_owned(),
            Some(vec![
                Field::required("claims", dynamic(Root::Claims, false)),
                Field::required("claim_paths", dynamic(Root::Claims, true)),
                Field::required("scopes", Type::Set(Box::new(Type::String))),
            ]),
        ),
        Decl::Entity("Route".to_owned(), None),
    ];
    for rt in &g.resources {
        let properties = |nested: bool| {
            values(
                names
                    .resource
                    .iter()
                    .filter(|(r, _, p)| *r == rt.name && (p.len() > 1) == nested)
                    .map(|(_, k, _)| k)
                    .collect(),
            )
        };
        decls.push(Decl::Entity(
            resource_entity(&rt.name),
            Some(vec![
                Field::required("properties", properties(false)),
                Field::required("property_paths", properties(true)),
            ]),
        ));
    }
    let request = Type::Record(
        ["method", "path", "host", "scheme"].into_iter().map(|n| Field::required(n, Type::String)).collect(),
    );
    decls.push(Decl::Type(
        "RuleContext",
        Type::Record(vec![
            Field::quoted("path", false, strings(&names.params)),
            Field::quoted("query", false, strings(&names.query)),
            Field::quoted("headers", false, strings(&names.headers)),
            Field::quoted("body", false, dynamic(Root::Body, false)),
            Field::quoted("body_paths", false, dynamic(Root::Body, true)),
            Field::quoted("context", false, dynamic(Root::Context, false)),
            Field::quoted("context_paths", false, dynamic(Root::Context, true)),
            Field::quoted("peer", true, Type::String),
            Field::quoted("source_ip", true, Type::String),
            Field::quoted("request", false, request),
        ]),
    ));
    // Token exchanges are not exported (see `to_cedar`): no action for them.
    for ep in g.endpoints.iter().filter(|ep| !matches!(ep.kind, crate::graph::EndpointKind::Exchange { .. })) {
        decls.push(Decl::Action { id: ep.id.clone(), resource: endpoint_entity(ep) });
    }
    Schema { decls }
}

impl Display for Schema {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(f, "// Cedar schema of the Warden rule layer (docs/cedar.md).")?;
        writeln!(f, "namespace {NAMESPACE} {{")?;
        for decl in &self.decls {
            writeln!(f, "  {decl}")?;
        }
        writeln!(f, "}}")
    }
}

impl Display for Decl {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Decl::Comment(text) => write!(f, "// {text}"),
            Decl::Type(name, ty) => write!(f, "type {name} = {ty};"),
            Decl::Entity(name, None) => write!(f, "entity {name};"),
            Decl::Entity(name, Some(fields)) => write!(f, "entity {name} = {};", Record(fields)),
            Decl::Action { id, resource } => write!(
                f,
                "action {} appliesTo {{ principal: Subject, resource: {resource}, context: RuleContext }};",
                Lit(id)
            ),
        }
    }
}

impl Display for Type {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Type::String => f.write_str("String"),
            Type::Long => f.write_str("Long"),
            Type::Bool => f.write_str("Bool"),
            Type::Set(item) => write!(f, "Set<{item}>"),
            Type::Record(fields) => write!(f, "{}", Record(fields)),
            Type::Named(name) => f.write_str(name),
        }
    }
}

/// `{ a: T, b?: U }`, or `{}`.
struct Record<'a>(&'a [Field]);

impl Display for Record<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("{}");
        }
        f.write_str("{ ")?;
        for (i, field) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match &field.name {
                FieldName::Ident(name) => f.write_str(name)?,
                FieldName::Quoted(name) => write!(f, "{}", Lit(name))?,
            }
            write!(f, "{}: {}", if field.optional { "?" } else { "" }, field.ty)?;
        }
        f.write_str(" }")
    }
}
