//! JMESPath over `serde_json` values, without converting them.
//!
//! Queries are parsed by the `jmespath` crate (its parser follows the specification's grammar) and
//! then evaluated here, directly on the claim's parsed JSON: results borrow from the input until a
//! new value has to be built. Converting a TPM event log into the `jmespath` crate's own value
//! type costs more than running the queries (see docs/performance.md), which is why evaluation is
//! ours. Semantics follow the JMESPath specification, plus MAA's `equals_ignore_case`.

use std::borrow::Cow;
use std::cmp::Ordering;

use jmespath::ast::{Ast, Comparator};
use serde_json::{Map, Number, Value};

/// A compiled query.
#[derive(Debug)]
pub(crate) struct Query {
    text: String,
    node: Node,
}

#[derive(Debug)]
enum Node {
    Identity,
    Field(String),
    Index(i32),
    Slice(Option<i32>, Option<i32>, i32),
    Literal(Value),
    Subexpr(Box<Node>, Box<Node>),
    Projection(Box<Node>, Box<Node>),
    ObjectValues(Box<Node>),
    Flatten(Box<Node>),
    MultiList(Vec<Node>),
    MultiHash(Vec<(String, Node)>),
    Compare(Comparator, Box<Node>, Box<Node>),
    Condition(Box<Node>, Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Expref(Box<Node>),
    Call(Func, Vec<Node>),
}

macro_rules! funcs {
    ($($variant:ident = $name:literal, $min:expr, $max:expr;)*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        enum Func { $($variant),* }
        impl Func {
            fn lookup(name: &str) -> Option<(Func, usize, usize)> {
                match name { $($name => Some((Func::$variant, $min, $max)),)* _ => None }
            }
            fn name(self) -> &'static str {
                match self { $(Func::$variant => $name),* }
            }
        }
    };
}

funcs! {
    Abs = "abs", 1, 1;
    Avg = "avg", 1, 1;
    Ceil = "ceil", 1, 1;
    Contains = "contains", 2, 2;
    EndsWith = "ends_with", 2, 2;
    EqualsIgnoreCase = "equals_ignore_case", 2, 2;
    Floor = "floor", 1, 1;
    Join = "join", 2, 2;
    Keys = "keys", 1, 1;
    Length = "length", 1, 1;
    Map = "map", 2, 2;
    Max = "max", 1, 1;
    MaxBy = "max_by", 2, 2;
    Merge = "merge", 1, usize::MAX;
    Min = "min", 1, 1;
    MinBy = "min_by", 2, 2;
    NotNull = "not_null", 1, usize::MAX;
    Reverse = "reverse", 1, 1;
    Sort = "sort", 1, 1;
    SortBy = "sort_by", 2, 2;
    StartsWith = "starts_with", 2, 2;
    Sum = "sum", 1, 1;
    ToArray = "to_array", 1, 1;
    ToNumber = "to_number", 1, 1;
    ToString = "to_string", 1, 1;
    Type = "type", 1, 1;
    Values = "values", 1, 1;
}

impl Query {
    /// Parses `text`; unknown functions and wrong arities are errors here, not at evaluation.
    pub(crate) fn compile(text: &str) -> Result<Query, String> {
        if text.trim().is_empty() {
            return Err("an empty JMESPath query".to_owned());
        }
        let ast = jmespath::parse(text).map_err(|e| format!("JMESPath query {text:?}: {}", e.reason))?;
        let node = convert(&ast).map_err(|e| format!("JMESPath query {text:?}: {e}"))?;
        Ok(Query {
            text: text.to_owned(),
            node,
        })
    }

    /// Runs the query on `data`.
    pub(crate) fn search(&self, data: &Value) -> Result<Value, String> {
        eval(&self.node, data)
            .map(Cow::into_owned)
            .map_err(|e| format!("JMESPath query {:?}: {e}", self.text))
    }
}

fn convert(ast: &Ast) -> Result<Node, String> {
    let b = |a: &Ast| convert(a).map(Box::new);
    Ok(match ast {
        Ast::Identity { .. } => Node::Identity,
        Ast::Field { name, .. } => Node::Field(name.clone()),
        Ast::Index { idx, .. } => Node::Index(*idx),
        Ast::Slice { start, stop, step, .. } => {
            if *step == 0 {
                return Err("slice step cannot be 0".to_owned());
            }
            Node::Slice(*start, *stop, *step)
        }
        Ast::Literal { value, .. } => {
            Node::Literal(serde_json::to_value(&**value).map_err(|e| format!("literal: {e}"))?)
        }
        Ast::Subexpr { lhs, rhs, .. } => Node::Subexpr(b(lhs)?, b(rhs)?),
        Ast::Projection { lhs, rhs, .. } => Node::Projection(b(lhs)?, b(rhs)?),
        Ast::ObjectValues { node, .. } => Node::ObjectValues(b(node)?),
        Ast::Flatten { node, .. } => Node::Flatten(b(node)?),
        Ast::MultiList { elements, .. } => Node::MultiList(elements.iter().map(convert).collect::<Result<_, _>>()?),
        Ast::MultiHash { elements, .. } => Node::MultiHash(
            elements
                .iter()
                .map(|kv| convert(&kv.value).map(|v| (kv.key.clone(), v)))
                .collect::<Result<_, _>>()?,
        ),
        Ast::Comparison {
            comparator, lhs, rhs, ..
        } => Node::Compare(comparator.clone(), b(lhs)?, b(rhs)?),
        Ast::Condition { predicate, then, .. } => Node::Condition(b(predicate)?, b(then)?),
        Ast::And { lhs, rhs, .. } => Node::And(b(lhs)?, b(rhs)?),
        Ast::Or { lhs, rhs, .. } => Node::Or(b(lhs)?, b(rhs)?),
        Ast::Not { node, .. } => Node::Not(b(node)?),
        Ast::Expref { ast, .. } => Node::Expref(b(ast)?),
        Ast::Function { name, args, .. } => {
            let (f, min, max) = Func::lookup(name).ok_or_else(|| format!("unknown function {name}()"))?;
            if args.len() < min || args.len() > max {
                return Err(format!(
                    "{name}() takes {min}{} argument(s), given {}",
                    if max > min { " or more" } else { "" },
                    args.len()
                ));
            }
            Node::Call(f, args.iter().map(convert).collect::<Result<_, _>>()?)
        }
    })
}

type R<'a> = Result<Cow<'a, Value>, String>;

const NULL: Value = Value::Null;

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Number(_) => true,
    }
}

/// The child of a possibly owned value, borrowing when the parent is borrowed.
fn child<'a>(parent: Cow<'a, Value>, f: impl Fn(&Value) -> Option<&Value>) -> Cow<'a, Value> {
    match parent {
        Cow::Borrowed(p) => Cow::Borrowed(f(p).unwrap_or(&NULL)),
        Cow::Owned(p) => Cow::Owned(f(&p).cloned().unwrap_or(Value::Null)),
    }
}

fn index(a: &[Value], i: i32) -> Option<&Value> {
    let len = a.len() as i64;
    let i = if i < 0 { len + i64::from(i) } else { i64::from(i) };
    if (0..len).contains(&i) { a.get(i as usize) } else { None }
}

fn number(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Value::from(f as i64)
    } else {
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

fn eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| eq(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| eq(v, w)))
        }
        _ => a == b,
    }
}

fn eval<'a>(node: &Node, data: &'a Value) -> R<'a> {
    eval_cow(node, Cow::Borrowed(data))
}

fn eval_cow<'a>(node: &Node, data: Cow<'a, Value>) -> R<'a> {
    Ok(match node {
        Node::Identity => data,
        Node::Field(name) => child(data, |v| v.as_object().and_then(|o| o.get(name))),
        Node::Index(i) => child(data, |v| v.as_array().and_then(|a| index(a, *i))),
        Node::Slice(start, stop, step) => match data.as_array() {
            Some(a) => Cow::Owned(Value::Array(slice(a, *start, *stop, *step))),
            None => Cow::Owned(Value::Null),
        },
        Node::Literal(v) => Cow::Owned(v.clone()),
        Node::Subexpr(lhs, rhs) => {
            let l = eval_cow(lhs, data)?;
            eval_cow(rhs, l)?
        }
        Node::Projection(lhs, rhs) => {
            let l = eval_cow(lhs, data)?;
            let items: Vec<Cow<'a, Value>> = match l {
                Cow::Borrowed(Value::Array(a)) => a.iter().map(Cow::Borrowed).collect(),
                Cow::Owned(Value::Array(a)) => a.into_iter().map(Cow::Owned).collect(),
                _ => return Ok(Cow::Owned(Value::Null)),
            };
            let mut out = Vec::new();
            for item in items {
                let r = eval_cow(rhs, item)?;
                if !r.is_null() {
                    out.push(r.into_owned());
                }
            }
            Cow::Owned(Value::Array(out))
        }
        Node::ObjectValues(inner) => match eval_cow(inner, data)? {
            Cow::Borrowed(Value::Object(o)) => Cow::Owned(Value::Array(o.values().cloned().collect())),
            Cow::Owned(Value::Object(o)) => Cow::Owned(Value::Array(o.into_iter().map(|(_, v)| v).collect())),
            _ => Cow::Owned(Value::Null),
        },
        Node::Flatten(inner) => match eval_cow(inner, data)?.as_ref() {
            Value::Array(a) => {
                let mut out = Vec::with_capacity(a.len());
                for v in a {
                    match v {
                        Value::Array(inner) => out.extend(inner.iter().cloned()),
                        other => out.push(other.clone()),
                    }
                }
                Cow::Owned(Value::Array(out))
            }
            _ => Cow::Owned(Value::Null),
        },
        Node::MultiList(elements) => {
            if data.is_null() {
                return Ok(Cow::Owned(Value::Null));
            }
            let mut out = Vec::with_capacity(elements.len());
            for e in elements {
                out.push(eval_cow(e, Cow::Borrowed(data.as_ref()))?.into_owned());
            }
            Cow::Owned(Value::Array(out))
        }
        Node::MultiHash(elements) => {
            if data.is_null() {
                return Ok(Cow::Owned(Value::Null));
            }
            let mut out = Map::new();
            for (k, e) in elements {
                out.insert(k.clone(), eval_cow(e, Cow::Borrowed(data.as_ref()))?.into_owned());
            }
            Cow::Owned(Value::Object(out))
        }
        Node::Compare(cmp, lhs, rhs) => {
            let l = eval_cow(lhs, Cow::Borrowed(data.as_ref()))?;
            let r = eval_cow(rhs, Cow::Borrowed(data.as_ref()))?;
            Cow::Owned(compare(cmp, &l, &r))
        }
        Node::Condition(pred, then) => {
            if truthy(eval_cow(pred, Cow::Borrowed(data.as_ref()))?.as_ref()) {
                eval_cow(then, data)?
            } else {
                Cow::Owned(Value::Null)
            }
        }
        Node::And(lhs, rhs) => {
            let l = eval_cow(lhs, Cow::Borrowed(data.as_ref()))?;
            if truthy(&l) {
                Cow::Owned(eval_cow(rhs, data)?.into_owned())
            } else {
                Cow::Owned(l.into_owned())
            }
        }
        Node::Or(lhs, rhs) => {
            let l = eval_cow(lhs, Cow::Borrowed(data.as_ref()))?;
            if truthy(&l) {
                Cow::Owned(l.into_owned())
            } else {
                Cow::Owned(eval_cow(rhs, data)?.into_owned())
            }
        }
        Node::Not(inner) => Cow::Owned(Value::Bool(!truthy(eval_cow(inner, data)?.as_ref()))),
        Node::Expref(_) => return Err("an expression reference (&expr) is only allowed as a function argument".into()),
        Node::Call(f, args) => Cow::Owned(call(*f, args, data.as_ref())?),
    })
}

fn compare(cmp: &Comparator, l: &Value, r: &Value) -> Value {
    match cmp {
        Comparator::Equal => Value::Bool(eq(l, r)),
        Comparator::NotEqual => Value::Bool(!eq(l, r)),
        ordering => match (l.as_f64(), r.as_f64()) {
            (Some(a), Some(b)) if l.is_number() && r.is_number() => Value::Bool(match ordering {
                Comparator::LessThan => a < b,
                Comparator::LessThanEqual => a <= b,
                Comparator::GreaterThan => a > b,
                _ => a >= b,
            }),
            _ => Value::Null,
        },
    }
}

fn slice(a: &[Value], start: Option<i32>, stop: Option<i32>, step: i32) -> Vec<Value> {
    let len = a.len() as i64;
    let step = i64::from(step);
    let clamp = |v: Option<i32>, default: i64| -> i64 {
        match v {
            None => default,
            Some(v) => {
                let v = i64::from(v);
                let v = if v < 0 { v + len } else { v };
                if step > 0 {
                    v.clamp(0, len)
                } else {
                    v.clamp(-1, len - 1)
                }
            }
        }
    };
    let (mut i, end) = if step > 0 {
        (clamp(start, 0), clamp(stop, len))
    } else {
        (clamp(start, len - 1), clamp(stop, -1))
    };
    let mut out = Vec::new();
    while (step > 0 && i < end) || (step < 0 && i > end) {
        if let Some(v) = usize::try_from(i).ok().and_then(|i| a.get(i)) {
            out.push(v.clone());
        }
        i += step;
    }
    out
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn invalid(f: Func, i: usize, expected: &str, got: &Value) -> String {
    format!(
        "{}() argument {} must be {expected}, found {}",
        f.name(),
        i + 1,
        type_name(got)
    )
}

/// Orders numbers with numbers and strings with strings (sort, max, min, *_by).
fn order(f: Func, a: &Value, b: &Value) -> Result<Ordering, String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => Ok(x
            .as_f64()
            .unwrap_or(0.0)
            .partial_cmp(&y.as_f64().unwrap_or(0.0))
            .unwrap_or(Ordering::Equal)),
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        _ => Err(format!(
            "{}() needs all numbers or all strings, found {} and {}",
            f.name(),
            type_name(a),
            type_name(b)
        )),
    }
}

fn call(f: Func, args: &[Node], data: &Value) -> Result<Value, String> {
    // Functions taking an expression reference evaluate it per element themselves.
    let expref = |i: usize| match &args[i] {
        Node::Expref(n) => Ok(&**n),
        _ => Err(format!(
            "{}() argument {} must be an expression reference (&expr)",
            f.name(),
            i + 1
        )),
    };
    let mut vals: Vec<Cow<'_, Value>> = Vec::with_capacity(args.len());
    for a in args {
        vals.push(match a {
            Node::Expref(_) => Cow::Owned(Value::Null),
            other => eval(other, data)?,
        });
    }
    let num = |i: usize| {
        vals[i]
            .as_f64()
            .filter(|_| vals[i].is_number())
            .ok_or_else(|| invalid(f, i, "a number", &vals[i]))
    };
    let string = |i: usize| vals[i].as_str().ok_or_else(|| invalid(f, i, "a string", &vals[i]));
    let array = |i: usize| vals[i].as_array().ok_or_else(|| invalid(f, i, "an array", &vals[i]));
    let object = |i: usize| vals[i].as_object().ok_or_else(|| invalid(f, i, "an object", &vals[i]));
    Ok(match f {
        Func::Abs => number(num(0)?.abs()),
        Func::Ceil => number(num(0)?.ceil()),
        Func::Floor => number(num(0)?.floor()),
        Func::Avg | Func::Sum => {
            let a = array(0)?;
            let mut total = 0.0;
            for v in a {
                total += v
                    .as_f64()
                    .filter(|_| v.is_number())
                    .ok_or_else(|| invalid(f, 0, "an array of numbers", v))?;
            }
            match f {
                Func::Avg if a.is_empty() => Value::Null,
                Func::Avg => number(total / a.len() as f64),
                _ => number(total),
            }
        }
        Func::Contains => match vals[0].as_ref() {
            Value::Array(a) => Value::Bool(a.iter().any(|v| eq(v, &vals[1]))),
            Value::String(s) => Value::Bool(vals[1].as_str().is_some_and(|n| s.contains(n))),
            other => return Err(invalid(f, 0, "an array or a string", other)),
        },
        Func::EndsWith => Value::Bool(string(0)?.ends_with(string(1)?)),
        Func::StartsWith => Value::Bool(string(0)?.starts_with(string(1)?)),
        Func::EqualsIgnoreCase => match (vals[0].as_str(), vals[1].as_str()) {
            (Some(a), Some(b)) => Value::Bool(a.to_lowercase() == b.to_lowercase()),
            _ => Value::Bool(eq(&vals[0], &vals[1])),
        },
        Func::Join => {
            let glue = string(0)?;
            let mut parts = Vec::new();
            for v in array(1)? {
                parts.push(v.as_str().ok_or_else(|| invalid(f, 1, "an array of strings", v))?);
            }
            Value::String(parts.join(glue))
        }
        Func::Keys => Value::Array(object(0)?.keys().map(|k| Value::String(k.clone())).collect()),
        Func::Values => Value::Array(object(0)?.values().cloned().collect()),
        Func::Length => match vals[0].as_ref() {
            Value::String(s) => Value::from(s.chars().count()),
            Value::Array(a) => Value::from(a.len()),
            Value::Object(o) => Value::from(o.len()),
            other => return Err(invalid(f, 0, "a string, an array or an object", other)),
        },
        Func::Map => {
            let e = expref(0)?;
            let mut out = Vec::new();
            for v in array(1)? {
                out.push(eval(e, v)?.into_owned());
            }
            Value::Array(out)
        }
        Func::Max | Func::Min => {
            let a = array(0)?;
            let mut best: Option<&Value> = None;
            for v in a {
                best = Some(match best {
                    None => {
                        if !(v.is_number() || v.is_string()) {
                            return Err(invalid(f, 0, "an array of numbers or strings", v));
                        }
                        v
                    }
                    Some(b) => {
                        let o = order(f, v, b)?;
                        if (f == Func::Max && o == Ordering::Greater) || (f == Func::Min && o == Ordering::Less) {
                            v
                        } else {
                            b
                        }
                    }
                });
            }
            best.cloned().unwrap_or(Value::Null)
        }
        Func::MaxBy | Func::MinBy | Func::SortBy => {
            let a = array(0)?;
            let e = expref(1)?;
            let mut keyed = Vec::with_capacity(a.len());
            for v in a {
                let k = eval(e, v)?.into_owned();
                if !(k.is_number() || k.is_string()) {
                    return Err(format!(
                        "{}() expression must give numbers or strings, found {}",
                        f.name(),
                        type_name(&k)
                    ));
                }
                keyed.push((k, v));
            }
            let mut err = None;
            keyed.sort_by(|x, y| {
                order(f, &x.0, &y.0).unwrap_or_else(|e| {
                    err = Some(e);
                    Ordering::Equal
                })
            });
            if let Some(e) = err {
                return Err(e);
            }
            match f {
                Func::SortBy => Value::Array(keyed.into_iter().map(|(_, v)| v.clone()).collect()),
                Func::MaxBy => keyed.last().map_or(Value::Null, |(_, v)| (*v).clone()),
                _ => keyed.first().map_or(Value::Null, |(_, v)| (*v).clone()),
            }
        }
        Func::Merge => {
            let mut out = Map::new();
            for i in 0..vals.len() {
                for (k, v) in object(i)? {
                    out.insert(k.clone(), v.clone());
                }
            }
            Value::Object(out)
        }
        Func::NotNull => vals
            .iter()
            .find(|v| !v.is_null())
            .map_or(Value::Null, |v| v.as_ref().clone()),
        Func::Reverse => match vals[0].as_ref() {
            Value::String(s) => Value::String(s.chars().rev().collect()),
            Value::Array(a) => Value::Array(a.iter().rev().cloned().collect()),
            other => return Err(invalid(f, 0, "an array or a string", other)),
        },
        Func::Sort => {
            let mut a = array(0)?.clone();
            for v in &a {
                if !(v.is_number() || v.is_string()) {
                    return Err(invalid(f, 0, "an array of numbers or strings", v));
                }
            }
            let mut err = None;
            a.sort_by(|x, y| {
                order(f, x, y).unwrap_or_else(|e| {
                    err = Some(e);
                    Ordering::Equal
                })
            });
            if let Some(e) = err {
                return Err(e);
            }
            Value::Array(a)
        }
        Func::ToArray => match vals[0].as_ref() {
            Value::Array(_) => vals[0].as_ref().clone(),
            other => Value::Array(vec![other.clone()]),
        },
        Func::ToNumber => match vals[0].as_ref() {
            Value::Number(_) => vals[0].as_ref().clone(),
            Value::String(s) => s.trim().parse::<f64>().ok().map_or(Value::Null, number),
            _ => Value::Null,
        },
        Func::ToString => match vals[0].as_ref() {
            Value::String(_) => vals[0].as_ref().clone(),
            other => Value::String(other.to_string()),
        },
        Func::Type => Value::String(type_name(&vals[0]).to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn q(query: &str, data: Value) -> Value {
        Query::compile(query)
            .and_then(|c| c.search(&data))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn specification_examples() {
        let people = json!({"people": [{"first": "James", "last": "d", "age": 30}, {"first": "Jacob", "last": "e", "age": 40},
                                       {"first": "Jayden", "last": "f", "age": 20}, {"missing": "different"}],
                            "foo": {"bar": {"baz": [0, 1, 2, 3]}}});
        let cases: Vec<(&str, Value)> = vec![
            ("foo.bar.baz[2]", json!(2)),
            ("foo.bar.baz[-1]", json!(3)),
            ("foo.bar.baz[1:3]", json!([1, 2])),
            ("foo.bar.baz[::-1]", json!([3, 2, 1, 0])),
            ("foo.bar.baz[::2]", json!([0, 2])),
            ("people[*].first", json!(["James", "Jacob", "Jayden"])),
            ("people[?age > `25`].first", json!(["James", "Jacob"])),
            ("people[?age > `25` && last == 'e'].first", json!(["Jacob"])),
            ("people[?!(age > `25`)].first", json!(["Jayden"])),
            ("people[0].{n: first, a: age}", json!({"n": "James", "a": 30})),
            ("people[0].[first, age]", json!(["James", 30])),
            ("length(people)", json!(4)),
            ("people[*].age | max(@)", json!(40)),
            ("people[*].age | sum(@)", json!(90)),
            ("people[*].age | avg(@)", json!(30)),
            ("max_by(people[?age], &age).first", json!("Jacob")),
            ("sort_by(people[?age], &age)[0].first", json!("Jayden")),
            ("map(&first, people[?age])", json!(["James", "Jacob", "Jayden"])),
            ("people[?age] | [?contains(first, 'ay')].first", json!(["Jayden"])),
            ("people[?first] | [?starts_with(first, 'Ja')] | length(@)", json!(3)),
            ("join(', ', people[?age].first)", json!("James, Jacob, Jayden")),
            ("nope || 'fallback'", json!("fallback")),
            ("foo.bar && 'yes'", json!("yes")),
            ("foo.*.baz", json!([[0, 1, 2, 3]])),
            ("`[[1, 2], [3], 4]`[]", json!([1, 2, 3, 4])),
            ("type(foo)", json!("object")),
            ("to_string(`1`)", json!("1")),
            ("to_number('2.5')", json!(2.5)),
            ("not_null(nope, foo.bar.baz[0])", json!(0)),
            ("keys(foo)", json!(["bar"])),
            ("reverse('abc')", json!("cba")),
            ("sort(`[3, 1, 2]`)", json!([1, 2, 3])),
            ("merge(`{\"a\": 1}`, `{\"b\": 2}`)", json!({"a": 1, "b": 2})),
            ("`1` == `1.0`", json!(true)),
            ("`1` < 'a'", Value::Null),
            (
                "equals_ignore_case('\\Windows\\A.sys', '\\windows\\a.SYS')",
                json!(true),
            ),
            ("missing.deeper[0]", Value::Null),
            ("people[?missing] | [0].missing", json!("different")),
        ];
        for (query, expected) in cases {
            assert_eq!(q(query, people.clone()), expected, "{query}");
        }
    }

    /// Differential: the `jmespath` crate's own interpreter gives the same answers.
    #[test]
    fn agrees_with_the_jmespath_crate() {
        let doc = json!({"Events": [
            {"EventTypeString": "EV_EFI_VARIABLE_DRIVER_CONFIG", "PcrIndex": 7, "ProcessedData": {"VariableGuid": "8BE4DF61-93CA-11D2-AA0D-00E098032B8C", "UnicodeName": "SecureBoot", "VariableData": "AQ"}},
            {"EventTypeString": "EV_EFI_VARIABLE_DRIVER_CONFIG", "PcrIndex": 7, "ProcessedData": {"VariableGuid": "8BE4DF61-93CA-11D2-AA0D-00E098032B8C", "UnicodeName": "PK", "VariableData": "AAAA"}},
            {"EventTypeString": "EV_EVENT_TAG", "PcrIndex": 12, "ProcessedData": {"EVENT_TRUSTBOUNDARY": {"EVENT_VBS_HVCI_POLICY": {"String": "HypervisorEnforcedCodeIntegrityEnable", "Value": 1},
                "EVENT_LOADEDMODULE_AGGREGATION": [{"EVENT_FILEPATH": "\\windows\\a.sys", "EVENT_IMAGEVALIDATED": true}, {"EVENT_FILEPATH": "\\windows\\b.sys", "EVENT_IMAGEVALIDATED": false}]}}},
            {"EventTypeString": "EV_SEPARATOR", "PcrIndex": 0, "Digests": [{"AlgorithmId": "sha256", "Digest": "AA"}]}
        ], "PCRs": [{"Index": 0, "Digests": {"SHA256": "x"}}, {"Index": 7, "Digests": {"SHA256": "y"}}]});
        let queries = [
            "Events[?EventTypeString == 'EV_EFI_VARIABLE_DRIVER_CONFIG' && ProcessedData.VariableGuid == '8BE4DF61-93CA-11D2-AA0D-00E098032B8C']",
            "Events[?EventTypeString == 'EV_EFI_VARIABLE_DRIVER_CONFIG'] | [?ProcessedData.UnicodeName == 'SecureBoot'] | length(@) == `1` && @[0].ProcessedData.VariableData == 'AQ'",
            "Events[? EventTypeString == 'EV_EVENT_TAG' && (PcrIndex == `12` || PcrIndex == `19`)].ProcessedData.EVENT_TRUSTBOUNDARY",
            "Events[? EventTypeString == 'EV_EVENT_TAG'].ProcessedData.EVENT_TRUSTBOUNDARY | [*].EVENT_VBS_HVCI_POLICY | @[?String == 'HypervisorEnforcedCodeIntegrityEnable'].Value",
            "Events[].ProcessedData.EVENT_TRUSTBOUNDARY.EVENT_LOADEDMODULE_AGGREGATION[] | [? EVENT_IMAGEVALIDATED == `true`] | @ != null",
            "PCRs[? Index == `0`].Digests.SHA256 | @[0] == 'x'",
            "Events[*].PcrIndex",
            "Events[1:3].EventTypeString",
            "Events[-1].Digests[0].Digest",
            "Events[*].{t: EventTypeString, p: PcrIndex}",
            "Events[*].[PcrIndex, EventTypeString][]",
            "max(Events[*].PcrIndex)",
            "sort_by(Events, &PcrIndex)[*].PcrIndex",
            "Events[?PcrIndex > `5`] | length(@)",
            "Events[?!(PcrIndex > `5`)].EventTypeString",
            "keys(Events[0].ProcessedData)",
            "Events[0].ProcessedData.*",
            "Events[?Digests] | [0].Digests[?AlgorithmId == 'sha256'].Digest | [0]",
            "nothing.here || PCRs[1].Index",
            "to_array(PCRs[0].Index)",
            "type(Events)",
            "reverse(Events[*].PcrIndex)",
        ];
        for query in queries {
            let ours = q(query, doc.clone());
            let theirs = jmespath::compile(query)
                .and_then(|e| e.search(doc.clone()))
                .expect(query);
            let theirs = serde_json::to_value(&*theirs).expect("json");
            assert_eq!(ours, theirs, "{query}");
        }
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(
            Query::compile("no_such_fn(@)")
                .expect_err("must fail")
                .contains("unknown function")
        );
        assert!(
            Query::compile("length(@, @)")
                .expect_err("must fail")
                .contains("takes 1")
        );
        assert!(Query::compile("[?").is_err());
        assert!(Query::compile("").is_err());
        let e = Query::compile("length(`1`)")
            .and_then(|c| c.search(&Value::Null))
            .expect_err("must fail");
        assert!(e.contains("length() argument 1 must be"), "{e}");
        let e = Query::compile("sort(`[1, \"a\"]`)")
            .and_then(|c| c.search(&Value::Null))
            .expect_err("must fail");
        assert!(e.contains("all numbers or all strings"), "{e}");
    }
}
