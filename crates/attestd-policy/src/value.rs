//! Values as the evaluator sees them.
//!
//! Structured values (incoming JSON claims such as TPM `events`, and `JmesPath` results) are
//! "JSON text" in MAA's language: they compare with strings by their JSON serialization. They are
//! kept parsed, so that a chain of `JmesPath` calls never re-parses text.

use std::sync::Arc;

use attestd_claims::{ClaimValue, ValueType};

/// A value during evaluation.
#[derive(Clone, Debug)]
pub(crate) enum Val {
    Bool(bool),
    Int(i64),
    Str(Arc<str>),
    /// A structured incoming claim value.
    Json(Arc<serde_json::Value>),
    /// A `JmesPath` result: JSON text, kept parsed.
    Var(Arc<serde_json::Value>),
}

/// A value and whether it derives from a read-only claim.
#[derive(Clone, Debug)]
pub(crate) struct RVal {
    pub(crate) v: Val,
    pub(crate) ro: bool,
}

impl Val {
    pub(crate) fn from_claim(v: &ClaimValue) -> Val {
        match v {
            ClaimValue::Bool(b) => Val::Bool(*b),
            ClaimValue::Integer(i) => Val::Int(*i),
            ClaimValue::String(s) => Val::Str(Arc::clone(s)),
            ClaimValue::Json(j) => Val::Json(Arc::clone(j)),
        }
    }

    pub(crate) fn value_type(&self) -> ValueType {
        match self {
            Val::Bool(_) => ValueType::Boolean,
            Val::Int(_) => ValueType::Integer,
            Val::Str(_) | Val::Json(_) | Val::Var(_) => ValueType::String,
        }
    }

    /// JSON text of a structured value.
    fn json_text(&self) -> Option<String> {
        match self {
            Val::Json(j) | Val::Var(j) => Some(j.to_string()),
            _ => None,
        }
    }

    /// Equality by value type: a Boolean never equals an integer or a string.
    pub(crate) fn equals(&self, other: &Val) -> bool {
        match (self, other) {
            (Val::Bool(a), Val::Bool(b)) => a == b,
            (Val::Int(a), Val::Int(b)) => a == b,
            (Val::Str(a), Val::Str(b)) => a == b,
            (Val::Json(a) | Val::Var(a), Val::Json(b) | Val::Var(b)) => a == b,
            (Val::Str(s), structured) | (structured, Val::Str(s)) => structured.json_text().is_some_and(|t| t == **s),
            _ => false,
        }
    }

    /// Whether this value is "empty": adding or issuing it is a no-op (JSON `null`).
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Val::Var(j) | Val::Json(j) => j.is_null(),
            _ => false,
        }
    }

    /// The value as a claim value for the token.
    pub(crate) fn to_claim(&self) -> ClaimValue {
        match self {
            Val::Bool(b) => ClaimValue::Bool(*b),
            Val::Int(i) => ClaimValue::Integer(*i),
            Val::Str(s) => ClaimValue::String(Arc::clone(s)),
            Val::Json(j) => ClaimValue::Json(Arc::clone(j)),
            // MAA: "returns the resultant JSON as a string".
            Val::Var(v) => ClaimValue::String(v.to_string().into()),
        }
    }

    /// A short rendering for traces and messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Val::Bool(b) => b.to_string(),
            Val::Int(i) => i.to_string(),
            Val::Str(s) => format!("{:?}", &**s),
            other => other.json_text().unwrap_or_default(),
        }
    }
}
