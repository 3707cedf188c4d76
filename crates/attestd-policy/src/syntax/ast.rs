//! The syntax tree of a policy.
//!
//! Equality ignores positions, so that a printed and re-parsed policy compares equal to the
//! original.

use super::Pos;

/// A policy grammar version (`version=MAJOR.MINOR;`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// 1.0: authorization and issuance rules.
    V1_0,
    /// 1.1: adds `configurationrules`.
    V1_1,
    /// 1.2: adds functions and the absence operator `!`.
    V1_2,
}

impl Version {
    /// The version as written in policies, e.g. `1.2`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1_0 => "1.0",
            Version::V1_1 => "1.1",
            Version::V1_2 => "1.2",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Version> {
        match s {
            "1.0" => Some(Version::V1_0),
            "1.1" => Some(Version::V1_1),
            "1.2" => Some(Version::V1_2),
            _ => None,
        }
    }
}

/// A parsed policy.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyAst {
    /// The grammar version.
    pub version: Version,
    /// `configurationrules`, when present (1.1+).
    pub configuration: Option<Vec<Rule>>,
    /// `authorizationrules`.
    pub authorization: Vec<Rule>,
    /// `issuancerules`, when present.
    pub issuance: Option<Vec<Rule>>,
}

/// The sections of a policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Section {
    /// `configurationrules`.
    Configuration,
    /// `authorizationrules`.
    Authorization,
    /// `issuancerules`.
    Issuance,
}

impl Section {
    /// The keyword, e.g. `authorizationrules`.
    pub fn as_str(self) -> &'static str {
        match self {
            Section::Configuration => "configurationrules",
            Section::Authorization => "authorizationrules",
            Section::Issuance => "issuancerules",
        }
    }
}

/// `conditions => action;`
#[derive(Clone, Debug)]
pub struct Rule {
    /// Where the rule starts.
    pub pos: Pos,
    /// The conditions, all of which must hold (`&&`); empty means "always".
    pub conditions: Vec<Condition>,
    /// What the rule does when its conditions hold.
    pub action: Action,
}

impl PartialEq for Rule {
    fn eq(&self, other: &Self) -> bool {
        self.conditions == other.conditions && self.action == other.action
    }
}

/// `[!] [ident:] [ prop op expr, … ]`
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    /// `!`: the condition holds when no claim matches (1.2).
    pub negated: bool,
    /// The identifier bound to every matching claim, e.g. `c`.
    pub ident: Option<String>,
    /// The property tests a claim must all pass.
    pub tests: Vec<PropCond>,
}

/// `type == "x"`, `value >= 3`, `issuer == "AttestationService"`, …
#[derive(Clone, Debug, PartialEq)]
pub struct PropCond {
    /// The claim property tested.
    pub property: Property,
    /// The comparison.
    pub op: CompareOp,
    /// What the property is compared with.
    pub rhs: Expr,
}

/// A claim property.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Property {
    /// The claim name.
    Type,
    /// The claim value.
    Value,
    /// `Boolean`, `Integer` or `String`.
    ValueType,
    /// `AttestationService`, `AttestationPolicy` or `CustomClaim`.
    Issuer,
}

impl Property {
    /// The keyword, e.g. `valueType`.
    pub fn as_str(self) -> &'static str {
        match self {
            Property::Type => "type",
            Property::Value => "value",
            Property::ValueType => "valueType",
            Property::Issuer => "issuer",
        }
    }

    pub(crate) fn parse_exact(s: &str) -> Option<Property> {
        [Property::Type, Property::Value, Property::ValueType, Property::Issuer]
            .into_iter()
            .find(|p| p.as_str() == s)
    }

    pub(crate) fn parse_any_case(s: &str) -> Option<Property> {
        [Property::Type, Property::Value, Property::ValueType, Property::Issuer]
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
    }
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `==` (also written `=` in some of MAA's samples).
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

impl CompareOp {
    /// The operator as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "==",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }

    /// Whether the operator orders values (only integers can be ordered).
    pub fn is_ordering(self) -> bool {
        !matches!(self, CompareOp::Eq | CompareOp::Ne)
    }
}

/// What a rule does.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// `permit()`
    Permit,
    /// `deny()`
    Deny,
    /// `add(…)`: adds claims to the incoming set, visible to later rules.
    Add(ClaimSpec),
    /// `issue(…)`: adds claims to the incoming and outgoing sets.
    Issue(ClaimSpec),
    /// `issueproperty(…)`: adds claims to the incoming and property sets.
    IssueProperty(ClaimSpec),
}

impl Action {
    /// The action keyword.
    pub fn keyword(&self) -> &'static str {
        match self {
            Action::Permit => "permit",
            Action::Deny => "deny",
            Action::Add(_) => "add",
            Action::Issue(_) => "issue",
            Action::IssueProperty(_) => "issueproperty",
        }
    }
}

/// The claim an action adds.
#[derive(Clone, Debug, PartialEq)]
pub enum ClaimSpec {
    /// `claim=c`: every claim bound to identifier `c`.
    Copy(String),
    /// `type=…, value=…[, valueType=…][, issuer=…]`; a positional first string is the type.
    Build(Vec<ClaimArg>),
}

/// One `property=expression` argument of a claim.
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimArg {
    /// The property set.
    pub property: Property,
    /// Its value.
    pub value: Expr,
}

/// An expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A string literal.
    Str(String),
    /// An integer literal.
    Int(i64),
    /// `true` or `false`.
    Bool(bool),
    /// `c.value`: a property of the claims bound to an identifier.
    Ref(String, Property),
    /// A function call (1.2).
    Call(Function, Vec<Expr>),
}

/// The functions of policy version 1.2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Function {
    /// `JmesPath(json, query)`
    JmesPath,
    /// `JsonToClaimValue(json)`
    JsonToClaimValue,
    /// `IsSubsetOf(set, set)`
    IsSubsetOf,
    /// `AppendString(a, b)`
    AppendString,
    /// `NegateBool(b)`
    NegateBool,
    /// `ContainsOnlyValue(set, value)`
    ContainsOnlyValue,
}

impl Function {
    /// Every function.
    pub const ALL: [Function; 6] = [
        Function::JmesPath,
        Function::JsonToClaimValue,
        Function::IsSubsetOf,
        Function::AppendString,
        Function::NegateBool,
        Function::ContainsOnlyValue,
    ];

    /// The function's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Function::JmesPath => "JmesPath",
            Function::JsonToClaimValue => "JsonToClaimValue",
            Function::IsSubsetOf => "IsSubsetOf",
            Function::AppendString => "AppendString",
            Function::NegateBool => "NegateBool",
            Function::ContainsOnlyValue => "ContainsOnlyValue",
        }
    }

    /// The number of arguments.
    pub fn arity(self) -> usize {
        match self {
            Function::JsonToClaimValue | Function::NegateBool => 1,
            _ => 2,
        }
    }
}
