//! Cedar expressions as a tree, and their canonical text (`Display`): what the
//! Cedar export's translation builds and simplifies before anything is printed.
//!
//! Only what the export emits is here: literals, the request variables,
//! attribute access, `has`, `like`, comparisons, set literals, the set methods,
//! `!`, `&&` and `||`. The smart constructors [`Expr::and`], [`Expr::or`] and
//! [`Expr::not`] fold constants and flatten conjunctions; every simplification
//! the export makes is made there, on the tree.

use std::fmt::{self, Display, Formatter, Write as _};

/// A Cedar expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// `true` or `false`.
    Bool(bool),
    /// A `Long` literal (a negative one is written with its `-`).
    Long(i64),
    /// A string literal.
    Str(String),
    /// `principal`, `resource` or `context`.
    Var(Var),
    /// `e.name`, or `e["name"]` when the name is not an identifier.
    Attr(Box<Expr>, String),
    /// `e has name`, or `e has "name"`.
    Has(Box<Expr>, String),
    /// `e like "pattern"`.
    Like(Box<Expr>, Pattern),
    /// `a op b`.
    Cmp(Box<Expr>, CmpOp, Box<Expr>),
    /// `[a, b, …]`.
    Set(Vec<Expr>),
    /// `receiver.method(argument)`.
    Call(Box<Expr>, Method, Box<Expr>),
    /// `!e`.
    Not(Box<Expr>),
    /// `(a && b && …)`: two or more operands, none of them a conjunction.
    And(Vec<Expr>),
    /// `(a || b || …)`: two or more operands.
    Or(Vec<Expr>),
}

/// A variable of the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Var {
    /// `principal`
    Principal,
    /// `resource`
    Resource,
    /// `context`
    Context,
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// A method of Cedar sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `contains`
    Contains,
    /// `containsAll`
    ContainsAll,
    /// `containsAny`
    ContainsAny,
}

/// A `like` pattern: literal text and `*` wildcards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern(pub Vec<PatternPart>);

/// One part of a [`Pattern`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatternPart {
    /// Any run of characters (`*`).
    Wildcard,
    /// This text, literally (a `*` in it is escaped).
    Text(String),
}

impl Pattern {
    /// `*text*`: `text` anywhere.
    pub fn containing(text: &str) -> Pattern {
        Pattern(vec![PatternPart::Wildcard, PatternPart::Text(text.to_owned()), PatternPart::Wildcard])
    }

    /// `text*`: strings starting with `text`.
    pub fn starting_with(text: &str) -> Pattern {
        Pattern(vec![PatternPart::Text(text.to_owned()), PatternPart::Wildcard])
    }

    /// `*text`: strings ending with `text`.
    pub fn ending_with(text: &str) -> Pattern {
        Pattern(vec![PatternPart::Wildcard, PatternPart::Text(text.to_owned())])
    }
}

impl Expr {
    /// `principal`
    pub fn principal() -> Expr {
        Expr::Var(Var::Principal)
    }

    /// `resource`
    pub fn resource() -> Expr {
        Expr::Var(Var::Resource)
    }

    /// `context`
    pub fn context() -> Expr {
        Expr::Var(Var::Context)
    }

    /// `self.name`
    pub fn attr(self, name: &str) -> Expr {
        Expr::Attr(Box::new(self), name.to_owned())
    }

    /// `self has name`
    pub fn has(self, name: &str) -> Expr {
        Expr::Has(Box::new(self), name.to_owned())
    }

    /// `self like pattern`
    pub fn like(self, pattern: Pattern) -> Expr {
        Expr::Like(Box::new(self), pattern)
    }

    /// `self op other`
    pub fn cmp(self, op: CmpOp, other: Expr) -> Expr {
        Expr::Cmp(Box::new(self), op, Box::new(other))
    }

    /// `self.method(argument)`
    pub fn call(self, method: Method, argument: Expr) -> Expr {
        Expr::Call(Box::new(self), method, Box::new(argument))
    }

    /// `self.contains(item)`
    pub fn contains(self, item: Expr) -> Expr {
        self.call(Method::Contains, item)
    }

    /// `!e`, folding `!true`, `!false` and `!!e`.
    pub fn not(e: Expr) -> Expr {
        match e {
            Expr::Bool(b) => Expr::Bool(!b),
            Expr::Not(e) => *e,
            e => Expr::Not(Box::new(e)),
        }
    }

    /// `a && b && …`: nested conjunctions are flattened and a repeated operand
    /// is kept once (the first time, so a guard still comes before the accesses
    /// it protects); `true` operands are dropped, and a `false` one makes it
    /// `false`.
    pub fn and(parts: impl IntoIterator<Item = Expr>) -> Expr {
        let mut flat: Vec<Expr> = Vec::new();
        for part in parts {
            let items = match part {
                Expr::And(items) => items,
                part => vec![part],
            };
            for item in items {
                if !flat.contains(&item) {
                    flat.push(item);
                }
            }
        }
        flat.retain(|p| *p != Expr::Bool(true));
        if flat.contains(&Expr::Bool(false)) {
            return Expr::Bool(false);
        }
        match flat.len() {
            0 => Expr::Bool(true),
            1 => flat.pop().unwrap_or(Expr::Bool(true)),
            _ => Expr::And(flat),
        }
    }

    /// `a || b || …`: `false` operands are dropped, and a `true` one makes it
    /// `true`. Nested disjunctions are kept as they are.
    pub fn or(parts: impl IntoIterator<Item = Expr>) -> Expr {
        let mut kept: Vec<Expr> = parts.into_iter().filter(|p| *p != Expr::Bool(false)).collect();
        if kept.contains(&Expr::Bool(true)) {
            return Expr::Bool(true);
        }
        match kept.len() {
            0 => Expr::Bool(false),
            1 => kept.pop().unwrap_or(Expr::Bool(false)),
            _ => Expr::Or(kept),
        }
    }

    /// How tightly the text of `self` binds, to decide where brackets go.
    fn precedence(&self) -> Precedence {
        match self {
            Expr::Has(..) | Expr::Like(..) | Expr::Cmp(..) => Precedence::Relation,
            Expr::Not(_) => Precedence::Unary,
            Expr::Long(n) if *n < 0 => Precedence::Unary,
            // `&&` and `||` chains bracket themselves.
            Expr::Bool(_)
            | Expr::Long(_)
            | Expr::Str(_)
            | Expr::Var(_)
            | Expr::Attr(..)
            | Expr::Set(_)
            | Expr::Call(..)
            | Expr::And(_)
            | Expr::Or(_) => Precedence::Member,
        }
    }
}

/// Cedar's levels of binding, loosest first (`||` and `&&` always come bracketed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Precedence {
    /// `==`, `<`, `has`, `like`, … (they do not chain).
    Relation,
    /// `!e`, `-e`.
    Unary,
    /// `e.a`, `e["a"]`, `e.m(…)` and primaries.
    Member,
}

/// Writes `e`, bracketed unless it binds more tightly than `above`.
fn operand(f: &mut Formatter<'_>, e: &Expr, above: Precedence) -> fmt::Result {
    if e.precedence() > above { write!(f, "{e}") } else { write!(f, "({e})") }
}

/// Writes `items` joined by `sep`.
fn join(f: &mut Formatter<'_>, items: &[Expr], sep: &str) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Bool(b) => write!(f, "{b}"),
            Expr::Long(n) => write!(f, "{n}"),
            Expr::Str(s) => write!(f, "{}", Lit(s)),
            Expr::Var(v) => f.write_str(match v {
                Var::Principal => "principal",
                Var::Resource => "resource",
                Var::Context => "context",
            }),
            Expr::Attr(base, name) => {
                operand(f, base, Precedence::Unary)?;
                if is_ident(name) { write!(f, ".{name}") } else { write!(f, "[{}]", Lit(name)) }
            }
            Expr::Has(base, name) => {
                operand(f, base, Precedence::Relation)?;
                if is_ident(name) { write!(f, " has {name}") } else { write!(f, " has {}", Lit(name)) }
            }
            Expr::Like(e, pattern) => {
                operand(f, e, Precedence::Relation)?;
                write!(f, " like {pattern}")
            }
            Expr::Cmp(a, op, b) => {
                operand(f, a, Precedence::Relation)?;
                write!(f, " {op} ")?;
                operand(f, b, Precedence::Relation)
            }
            Expr::Set(items) => {
                f.write_str("[")?;
                join(f, items, ", ")?;
                f.write_str("]")
            }
            Expr::Call(receiver, method, argument) => {
                operand(f, receiver, Precedence::Unary)?;
                write!(f, ".{method}({argument})")
            }
            // The operand is always bracketed (a chain brings its own brackets),
            // so `!(a has b)` reads the same to a person as to Cedar.
            Expr::Not(e) => match **e {
                Expr::And(_) | Expr::Or(_) => write!(f, "!{e}"),
                _ => write!(f, "!({e})"),
            },
            Expr::And(items) => {
                f.write_str("(")?;
                join(f, items, " && ")?;
                f.write_str(")")
            }
            Expr::Or(items) => {
                f.write_str("(")?;
                join(f, items, " || ")?;
                f.write_str(")")
            }
        }
    }
}

impl Display for CmpOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        })
    }
}

impl Display for Method {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Contains => "contains",
            Method::ContainsAll => "containsAll",
            Method::ContainsAny => "containsAny",
        })
    }
}

impl Display for Pattern {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for part in &self.0 {
            match part {
                PatternPart::Wildcard => f.write_char('*')?,
                PatternPart::Text(text) => {
                    for c in text.chars() {
                        match c {
                            '*' => f.write_str("\\*")?,
                            c => escaped(f, c)?,
                        }
                    }
                }
            }
        }
        f.write_char('"')
    }
}

/// A Cedar string literal: `Lit("a\"b")` displays as `"a\"b"`. Quotes and
/// backslashes are escaped, control characters written as `\u{…}`, and every
/// other character (any Unicode letter) as itself.
#[derive(Clone, Copy, Debug)]
pub struct Lit<'a>(pub &'a str);

impl Display for Lit<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for c in self.0.chars() {
            escaped(f, c)?;
        }
        f.write_char('"')
    }
}

/// One character inside a Cedar string literal.
fn escaped(f: &mut Formatter<'_>, c: char) -> fmt::Result {
    match c {
        '"' => f.write_str("\\\""),
        '\\' => f.write_str("\\\\"),
        c if c.is_control() => write!(f, "\\u{{{:x}}}", c as u32),
        c => f.write_char(c),
    }
}

/// Cedar's reserved words: not usable as a bare attribute name.
const RESERVED: &[&str] =
    &["true", "false", "if", "then", "else", "in", "is", "like", "has", "permit", "forbid", "when", "unless"];

/// Whether `name` can be written bare (`e.name`, `e has name`) rather than as a string.
fn is_ident(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !RESERVED.contains(&name)
        && !name.starts_with("__cedar")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Expr {
        Expr::principal().attr("claims")
    }

    #[test]
    fn attributes_that_are_not_identifiers_are_written_as_strings() {
        assert_eq!(claims().attr("sub").to_string(), "principal.claims.sub");
        assert_eq!(claims().attr("x-id").to_string(), r#"principal.claims["x-id"]"#);
        assert_eq!(claims().attr("if").to_string(), r#"principal.claims["if"]"#);
        assert_eq!(claims().attr("__cedar_x").to_string(), r#"principal.claims["__cedar_x"]"#);
        assert_eq!(claims().has("9lives").to_string(), r#"principal.claims has "9lives""#);
        assert_eq!(claims().has("sub").to_string(), "principal.claims has sub");
    }

    #[test]
    fn strings_escape_quotes_backslashes_and_control_characters_and_keep_unicode() {
        assert_eq!(Expr::Str(r#"say "hi""#.into()).to_string(), r#""say \"hi\"""#);
        assert_eq!(Expr::Str(r"C:\dir".into()).to_string(), r#""C:\\dir""#);
        assert_eq!(Expr::Str("line\nbreak\ttab\u{7f}".into()).to_string(), r#""line\u{a}break\u{9}tab\u{7f}""#);
        assert_eq!(Expr::Str("héllo ✓ 😀".into()).to_string(), "\"héllo ✓ 😀\"");
        assert_eq!(claims().attr("a\"b\\c").to_string(), r#"principal.claims["a\"b\\c"]"#);
    }

    #[test]
    fn patterns_escape_the_wildcard_and_string_escapes() {
        assert_eq!(Pattern::containing("a*b").to_string(), r#""*a\*b*""#);
        assert_eq!(Pattern::starting_with("x\"y").to_string(), r#""x\"y*""#);
        assert_eq!(Pattern::ending_with(r"\*").to_string(), r#""*\\\*""#);
        assert_eq!(
            claims().attr("sub").like(Pattern::starting_with("é")).to_string(),
            r#"principal.claims.sub like "é*""#
        );
    }

    #[test]
    fn negative_numbers_keep_their_sign_and_bracket_before_a_member() {
        let num = claims().attr("n").attr("num");
        assert_eq!(num.clone().cmp(CmpOp::Ge, Expr::Long(-3)).to_string(), "principal.claims.n.num >= -3");
        assert_eq!(
            Expr::Long(i64::MIN).cmp(CmpOp::Lt, num).to_string(),
            "-9223372036854775808 < principal.claims.n.num"
        );
        assert_eq!(Expr::Long(-1).attr("x").to_string(), "(-1).x");
        assert_eq!(Expr::Set(vec![Expr::Long(-1), Expr::Long(0), Expr::Long(2)]).to_string(), "[-1, 0, 2]");
    }

    #[test]
    fn precedence_brackets_what_binds_more_loosely() {
        let has = claims().has("a");
        let eq = claims().attr("a").cmp(CmpOp::Eq, Expr::Str("x".into()));
        // `!` brackets its operand; a chain brings its own brackets.
        assert_eq!(Expr::not(has.clone()).to_string(), "!(principal.claims has a)");
        assert_eq!(Expr::not(claims().attr("b")).to_string(), "!(principal.claims.b)");
        assert_eq!(
            Expr::not(Expr::Or(vec![has.clone(), eq.clone()])).to_string(),
            r#"!(principal.claims has a || principal.claims.a == "x")"#
        );
        // Relations do not chain: a relation inside one is bracketed.
        assert_eq!(eq.clone().cmp(CmpOp::Eq, Expr::Bool(true)).to_string(), r#"(principal.claims.a == "x") == true"#);
        assert_eq!(
            has.clone().cmp(CmpOp::Ne, Expr::not(has.clone())).to_string(),
            "(principal.claims has a) != !(principal.claims has a)"
        );
        // A member of a relation or a negation is bracketed.
        assert_eq!(eq.clone().attr("x").to_string(), r#"(principal.claims.a == "x").x"#);
        assert_eq!(Expr::not(has.clone()).has("y").to_string(), "!(principal.claims has a) has y");
        // `&&` inside `||` and `||` inside `&&` keep their brackets.
        let or = Expr::Or(vec![has.clone(), Expr::And(vec![eq.clone(), Expr::Bool(false)])]);
        assert_eq!(or.to_string(), r#"(principal.claims has a || (principal.claims.a == "x" && false))"#);
        assert_eq!(
            Expr::Set(vec![Expr::Str("a".into())]).call(Method::ContainsAny, claims().attr("r")).to_string(),
            r#"["a"].containsAny(principal.claims.r)"#
        );
    }

    #[test]
    fn conjunctions_flatten_drop_true_and_repeats_and_fold_false() {
        let (a, b, c) = (claims().has("a"), claims().has("b"), claims().has("c"));
        let ab = Expr::and([a.clone(), b.clone()]);
        assert_eq!(ab, Expr::And(vec![a.clone(), b.clone()]));
        assert_eq!(
            Expr::and([Expr::Bool(true), ab.clone(), b.clone(), c.clone(), a.clone()]),
            Expr::And(vec![a.clone(), b.clone(), c.clone()])
        );
        assert_eq!(Expr::and([ab.clone(), Expr::Bool(false)]), Expr::Bool(false));
        assert_eq!(Expr::and([Expr::Bool(true), a.clone()]), a);
        assert_eq!(Expr::and([]), Expr::Bool(true));
        // A disjunction inside stays one operand.
        let or = Expr::or([a.clone(), b.clone()]);
        assert_eq!(Expr::and([or.clone(), c.clone()]), Expr::And(vec![or, c.clone()]));
    }

    #[test]
    fn disjunctions_drop_false_fold_true_and_do_not_flatten() {
        let (a, b, c) = (claims().has("a"), claims().has("b"), claims().has("c"));
        let ab = Expr::or([Expr::Bool(false), a.clone(), b.clone()]);
        assert_eq!(ab, Expr::Or(vec![a.clone(), b.clone()]));
        assert_eq!(
            Expr::or([ab.clone(), c.clone()]).to_string(),
            "((principal.claims has a || principal.claims has b) || principal.claims has c)"
        );
        assert_eq!(Expr::or([a.clone(), Expr::Bool(true)]), Expr::Bool(true));
        assert_eq!(Expr::or([Expr::Bool(false)]), Expr::Bool(false));
        assert_eq!(Expr::or([c.clone()]), c);
    }

    #[test]
    fn negation_folds_constants() {
        assert_eq!(Expr::not(Expr::Bool(true)), Expr::Bool(false));
        assert_eq!(Expr::not(Expr::Bool(false)), Expr::Bool(true));
        let has = Expr::principal().has("claims");
        assert_eq!(Expr::not(Expr::not(has.clone())), has);
    }
}
