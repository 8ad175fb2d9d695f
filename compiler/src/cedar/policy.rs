//! Cedar policies as typed structures, printed (`Display`) as the text of
//! `warden compile --emit cedar`: one section per endpoint, each policy with
//! its `@id` annotation, scope and condition.

use std::fmt::{self, Display, Formatter};

use super::NAMESPACE;
use super::expr::{Expr, Lit};

/// The whole policy file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policies {
    /// The revision of the graph it was exported from.
    pub revision: String,
    /// One section per endpoint, in graph order.
    pub sections: Vec<Section>,
}

/// The policies of one endpoint, under a comment naming it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// The endpoint id.
    pub endpoint: String,
    /// Its policies and notes, in rule order.
    pub items: Vec<Item>,
}

/// A line or lines of the policy file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// `// text`: a note for the reader (what the export left out).
    Comment(String),
    /// A policy.
    Policy(Policy),
}

/// `@id("…") permit|forbid (scope) [when|unless { … }];`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The `@id` annotation: the Warden rule id.
    pub id: String,
    /// `permit` or `forbid`.
    pub effect: Effect,
    /// The action and resource type it applies to.
    pub scope: Scope,
    /// Its condition; none applies it to every request in scope.
    pub condition: Option<Condition>,
}

/// `permit` or `forbid`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// `permit`
    Permit,
    /// `forbid`
    Forbid,
}

/// `(principal, action == Warden::Action::"<action>", resource is Warden::<resource>)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// The action id (the endpoint id).
    pub action: String,
    /// The resource entity type, without the namespace.
    pub resource: String,
}

/// A policy's condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// `when { e }`
    When(Expr),
    /// `unless { e }`
    Unless(Expr),
}

impl Display for Policies {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(f, "// Cedar export of Warden revision {} (rule layer only; docs/cedar.md).", self.revision)?;
        for section in &self.sections {
            writeln!(f, "\n// {}", section.endpoint)?;
            for item in &section.items {
                writeln!(f, "{item}")?;
            }
        }
        Ok(())
    }
}

impl Display for Item {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Item::Comment(text) => write!(f, "// {text}"),
            Item::Policy(p) => write!(f, "{p}"),
        }
    }
}

impl Display for Policy {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let effect = match self.effect {
            Effect::Permit => "permit",
            Effect::Forbid => "forbid",
        };
        write!(f, "@id({})\n{effect} {}", Lit(&self.id), self.scope)?;
        match &self.condition {
            None => write!(f, ";"),
            Some(Condition::When(e)) => write!(f, "\nwhen {{ {e} }};"),
            Some(Condition::Unless(e)) => write!(f, "\nunless {{ {e} }};"),
        }
    }
}

impl Display for Scope {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "(principal, action == {NAMESPACE}::Action::{}, resource is {NAMESPACE}::{})",
            Lit(&self.action),
            self.resource
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_prints_its_id_scope_and_condition() {
        let scope = Scope { action: "doc.read".into(), resource: "Resource_doc".into() };
        let forbid = Policy {
            id: "doc.read#1".into(),
            effect: Effect::Forbid,
            scope: scope.clone(),
            condition: Some(Condition::Unless(Expr::principal().has("x"))),
        };
        assert_eq!(
            forbid.to_string(),
            "@id(\"doc.read#1\")\nforbid (principal, action == Warden::Action::\"doc.read\", resource is Warden::Resource_doc)\nunless { principal has x };"
        );
        let permit = Policy { id: "a\"b".into(), effect: Effect::Permit, scope, condition: None };
        assert_eq!(
            permit.to_string(),
            "@id(\"a\\\"b\")\npermit (principal, action == Warden::Action::\"doc.read\", resource is Warden::Resource_doc);"
        );
    }
}
