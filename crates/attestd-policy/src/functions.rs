//! Helpers of the policy functions of version 1.2 (reference B.5).

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::Value;

use crate::jmes::Query;
use crate::value::{RVal, Val};

/// Compiles a JMESPath query once (at policy compile time when the query is a literal).
pub(crate) fn compile_jmespath(query: &str) -> Result<Arc<Query>, String> {
    Query::compile(query).map(Arc::new)
}

/// The JSON a `JmesPath` or `JsonToClaimValue` argument denotes: structured values as they are,
/// strings parsed as JSON text.
pub(crate) fn as_json<'v>(v: &'v Val, function: &str) -> Result<Cow<'v, Value>, String> {
    match v {
        Val::Var(j) | Val::Json(j) => Ok(Cow::Borrowed(&**j)),
        Val::Str(s) if s.trim().is_empty() => Err(format!("{function}: the JSON argument is empty")),
        Val::Str(s) => serde_json::from_str::<Value>(s)
            .map(Cow::Owned)
            .map_err(|e| format!("{function}: the argument is not valid JSON ({e})")),
        Val::Bool(_) | Val::Int(_) => Err(format!(
            "{function}: the argument must be JSON text, found {}",
            v.describe()
        )),
    }
}

/// `JsonToClaimValue`: a JSON scalar becomes a typed value, an array of scalars a set, `null`
/// nothing; objects and fractions are errors.
pub(crate) fn json_to_claim_value(json: &Value, ro: bool, out: &mut Vec<RVal>) -> Result<(), String> {
    fn scalar(v: &Value) -> Result<Option<Val>, String> {
        match v {
            Value::Null => Ok(None),
            Value::Bool(b) => Ok(Some(Val::Bool(*b))),
            Value::String(s) => Ok(Some(Val::Str(s.as_str().into()))),
            Value::Number(n) => n
                .as_i64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                        .map(|f| f as i64)
                })
                .map(|i| Some(Val::Int(i)))
                .ok_or_else(|| format!("JsonToClaimValue: {n} is not an integer")),
            Value::Object(_) => Err("JsonToClaimValue: a JSON object cannot be a claim value".to_owned()),
            Value::Array(_) => Err("JsonToClaimValue: an array inside an array cannot be a claim value".to_owned()),
        }
    }
    match json {
        Value::Array(items) => {
            for item in items {
                if let Some(v) = scalar(item)? {
                    out.push(RVal { v, ro });
                }
            }
        }
        other => {
            if let Some(v) = scalar(other)? {
                out.push(RVal { v, ro });
            }
        }
    }
    Ok(())
}
