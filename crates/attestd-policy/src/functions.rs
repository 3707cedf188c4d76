//! The functions of policy version 1.2 (reference B.5) and the JMESPath dialect they use.

use std::sync::{Arc, OnceLock};

use jmespath::functions::{ArgumentType, CustomFunction, Signature};
use jmespath::{Context, Expression, Rcvar, Runtime, Variable};

use crate::value::{RVal, Val, json_to_var};

/// The JMESPath runtime: the standard functions plus MAA's `equals_ignore_case`.
pub(crate) fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let mut rt = Runtime::new();
        rt.register_builtin_functions();
        rt.register_function(
            "equals_ignore_case",
            Box::new(CustomFunction::new(
                Signature::new(vec![ArgumentType::Any, ArgumentType::Any], None),
                Box::new(|args: &[Rcvar], _: &mut Context<'_>| {
                    let equal = match (args[0].as_string(), args[1].as_string()) {
                        (Some(a), Some(b)) => a.to_lowercase() == b.to_lowercase(),
                        _ => args[0] == args[1],
                    };
                    Ok(Rcvar::new(Variable::Bool(equal)))
                }),
            )),
        );
        rt
    })
}

/// Compiles a JMESPath query once (at policy compile time when the query is a literal).
pub(crate) fn compile_jmespath(query: &str) -> Result<Arc<Expression<'static>>, String> {
    if query.is_empty() {
        return Err("an empty JMESPath query".to_owned());
    }
    runtime()
        .compile(query)
        .map(Arc::new)
        .map_err(|e| format!("JMESPath query {query:?}: {}", e.reason))
}

/// Runs `expr` on `data`.
pub(crate) fn search(expr: &Expression<'static>, data: &Rcvar) -> Result<Rcvar, String> {
    let mut ctx = Context::new(expr.as_str(), runtime());
    jmespath::interpret(data, expr.as_ast(), &mut ctx)
        .map_err(|e| format!("JMESPath query {:?}: {}", expr.as_str(), e.reason))
}

/// The JSON a `JmesPath` or `JsonToClaimValue` argument denotes.
pub(crate) fn as_json(v: &Val, function: &str) -> Result<Rcvar, String> {
    match v {
        Val::Var(var) => Ok(Rcvar::clone(var)),
        Val::Json(j) => Ok(Rcvar::new(json_to_var(j))),
        Val::Str(s) if s.trim().is_empty() => Err(format!("{function}: the JSON argument is empty")),
        Val::Str(s) => serde_json::from_str::<serde_json::Value>(s)
            .map(|j| Rcvar::new(json_to_var(&j)))
            .map_err(|e| format!("{function}: the argument is not valid JSON ({e})")),
        Val::Bool(_) | Val::Int(_) => Err(format!(
            "{function}: the argument must be JSON text, found {}",
            v.describe()
        )),
    }
}

/// `JsonToClaimValue`: a JSON scalar becomes a typed value, an array of scalars a set, `null`
/// nothing; objects and fractions are errors.
pub(crate) fn json_to_claim_value(json: &Variable, ro: bool, out: &mut Vec<RVal>) -> Result<(), String> {
    fn scalar(v: &Variable) -> Result<Option<Val>, String> {
        match v {
            Variable::Null => Ok(None),
            Variable::Bool(b) => Ok(Some(Val::Bool(*b))),
            Variable::String(s) => Ok(Some(Val::Str(s.as_str().into()))),
            Variable::Number(n) => n
                .as_i64()
                .map(|i| Some(Val::Int(i)))
                .ok_or_else(|| format!("JsonToClaimValue: {n} is not an integer")),
            Variable::Object(_) => Err("JsonToClaimValue: a JSON object cannot be a claim value".to_owned()),
            Variable::Array(_) => Err("JsonToClaimValue: an array inside an array cannot be a claim value".to_owned()),
            Variable::Expref(_) => Err("JsonToClaimValue: an expression reference is not JSON".to_owned()),
        }
    }
    match json {
        Variable::Array(items) => {
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
