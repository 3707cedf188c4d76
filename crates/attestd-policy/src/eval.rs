//! The compiled form of a policy and its evaluation (reference B.4–B.6).
//!
//! Compilation resolves identifiers to slots, pre-compiles literal JMESPath queries and renders
//! each rule once for messages, so evaluation allocates only for the claims rules add.

use std::borrow::Cow;
use std::sync::Arc;

use attestd_claims::{Claim, ClaimIssuer, ClaimSet, ClaimValue, ValueType};

use crate::error::{PolicyEvaluationError, RuleRef};
use crate::functions;
use crate::jmes;
use crate::syntax::{self, Action, ClaimSpec, CompareOp, Function, Property, Section};
use crate::value::{RVal, Val};

/// Incoming claims whose values may be used in conditions but never issued (reference B.4.14).
const READ_ONLY_CLAIMS: [&str; 1] = ["pcrs"];

#[derive(Debug)]
pub(crate) struct CRule {
    pub(crate) rref: RuleRef,
    conditions: Vec<CCond>,
    action: CAction,
    /// Number of identifier slots the rule binds.
    slots: usize,
}

#[derive(Debug)]
struct CCond {
    negated: bool,
    slot: Option<usize>,
    tests: Vec<CTest>,
}

#[derive(Debug)]
struct CTest {
    property: Property,
    op: CompareOp,
    rhs: CExpr,
}

#[derive(Debug)]
enum CAction {
    Permit,
    Deny,
    Add(CSpec),
    Issue(CSpec),
    IssueProperty(CSpec),
}

#[derive(Debug)]
enum CSpec {
    Copy(usize),
    Build {
        name: CExpr,
        value: CExpr,
        value_type: Option<ValueType>,
    },
}

#[derive(Debug)]
enum CExpr {
    Lit(Val),
    Ref(usize, Property),
    JmesPath(Box<CExpr>, Query),
    Call(Function, Vec<CExpr>),
}

#[derive(Debug)]
enum Query {
    Compiled(Arc<jmes::Query>),
    Dynamic(Box<CExpr>),
}

/// Compiles a section's rules. The parser has already checked identifiers and arities.
pub(crate) fn compile_rules(section: Section, rules: &[syntax::Rule]) -> Vec<CRule> {
    rules
        .iter()
        .enumerate()
        .map(|(index, rule)| {
            let mut names: Vec<&str> = Vec::new();
            let mut conditions = Vec::with_capacity(rule.conditions.len());
            for c in &rule.conditions {
                let tests = c
                    .tests
                    .iter()
                    .map(|t| CTest {
                        property: t.property,
                        op: t.op,
                        rhs: compile_expr(&t.rhs, &names),
                    })
                    .collect();
                let slot = c.ident.as_deref().map(|name| {
                    names.push(name);
                    names.len() - 1
                });
                conditions.push(CCond {
                    negated: c.negated,
                    slot,
                    tests,
                });
            }
            let spec = |s: &ClaimSpec| match s {
                ClaimSpec::Copy(ident) => CSpec::Copy(slot_of(&names, ident)),
                ClaimSpec::Build(args) => {
                    let arg = |p: Property| {
                        args.iter()
                            .find(|a| a.property == p)
                            .map(|a| compile_expr(&a.value, &names))
                    };
                    let value_type =
                        args.iter()
                            .find(|a| a.property == Property::ValueType)
                            .and_then(|a| match &a.value {
                                syntax::Expr::Str(s) => ValueType::parse(s),
                                _ => None,
                            });
                    CSpec::Build {
                        name: arg(Property::Type).unwrap_or(CExpr::Lit(Val::Str("".into()))),
                        value: arg(Property::Value).unwrap_or(CExpr::Lit(Val::Str("".into()))),
                        value_type,
                    }
                }
            };
            let action = match &rule.action {
                Action::Permit => CAction::Permit,
                Action::Deny => CAction::Deny,
                Action::Add(s) => CAction::Add(spec(s)),
                Action::Issue(s) => CAction::Issue(spec(s)),
                Action::IssueProperty(s) => CAction::IssueProperty(spec(s)),
            };
            CRule {
                rref: RuleRef {
                    section,
                    index,
                    line: rule.pos.line,
                    text: rule.to_string().into(),
                },
                conditions,
                action,
                slots: names.len(),
            }
        })
        .collect()
}

fn slot_of(names: &[&str], ident: &str) -> usize {
    // The parser guarantees the identifier is bound; the last binding of a name wins.
    names.iter().rposition(|n| *n == ident).unwrap_or(0)
}

fn compile_expr(e: &syntax::Expr, names: &[&str]) -> CExpr {
    match e {
        syntax::Expr::Str(s) => CExpr::Lit(Val::Str(s.as_str().into())),
        syntax::Expr::Int(i) => CExpr::Lit(Val::Int(*i)),
        syntax::Expr::Bool(b) => CExpr::Lit(Val::Bool(*b)),
        syntax::Expr::Ref(ident, p) => CExpr::Ref(slot_of(names, ident), *p),
        syntax::Expr::Call(Function::JmesPath, args) => {
            let data = Box::new(compile_expr(&args[0], names));
            let query = match &args[1] {
                syntax::Expr::Str(q) => match functions::compile_jmespath(q) {
                    Ok(expr) => Query::Compiled(expr),
                    // Unreachable: the parser rejects invalid literal queries.
                    Err(_) => Query::Dynamic(Box::new(compile_expr(&args[1], names))),
                },
                other => Query::Dynamic(Box::new(compile_expr(other, names))),
            };
            CExpr::JmesPath(data, query)
        }
        syntax::Expr::Call(f, args) => CExpr::Call(*f, args.iter().map(|a| compile_expr(a, names)).collect()),
    }
}

/// A claim in the working set: borrowed from the incoming set or added by a rule.
struct Working<'a> {
    name: Cow<'a, str>,
    value: Val,
    issuer: ClaimIssuer,
    ro: bool,
}

/// What happened to one rule, for `attestd policy eval` and debugging.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleTrace {
    /// The rule.
    pub rule: RuleRef,
    /// Whether its conditions held (and so its action ran).
    pub fired: bool,
    /// The claims its action added, as (name, value).
    pub added: Vec<(String, ClaimValue)>,
}

/// The result of a permitted evaluation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evaluation {
    /// Outgoing claims (`issue`), in the order issued; issuer `AttestationPolicy`.
    pub issued: ClaimSet,
    /// Property claims (`issueproperty`), from `configurationrules` and `issuancerules`.
    pub properties: ClaimSet,
    /// Every rule's outcome, in evaluation order (only filled by `evaluate_traced`).
    pub trace: Vec<RuleTrace>,
}

pub(crate) struct Evaluator<'a> {
    incoming: &'a [Claim],
    added: Vec<Working<'a>>,
    /// Indices into incoming ++ added, per identifier slot of the current rule.
    bindings: Vec<Vec<usize>>,
    pub(crate) result: Evaluation,
    trace: bool,
    permitted: bool,
}

impl<'a> Evaluator<'a> {
    pub(crate) fn new(incoming: &'a ClaimSet, trace: bool) -> Self {
        let incoming = incoming_slice(incoming);
        Evaluator {
            incoming,
            added: Vec::new(),
            bindings: Vec::new(),
            result: Evaluation::default(),
            trace,
            permitted: false,
        }
    }

    fn len(&self) -> usize {
        self.incoming.len() + self.added.len()
    }

    fn claim(&self, i: usize) -> (&str, Val, ClaimIssuer, bool) {
        if i < self.incoming.len() {
            let c = &self.incoming[i];
            (
                &c.name,
                Val::from_claim(&c.value),
                c.issuer,
                READ_ONLY_CLAIMS.contains(&&*c.name),
            )
        } else {
            let w = &self.added[i - self.incoming.len()];
            (&w.name, w.value.clone(), w.issuer, w.ro)
        }
    }

    fn name(&self, i: usize) -> &str {
        if i < self.incoming.len() {
            &self.incoming[i].name
        } else {
            &self.added[i - self.incoming.len()].name
        }
    }

    fn issuer(&self, i: usize) -> ClaimIssuer {
        if i < self.incoming.len() {
            self.incoming[i].issuer
        } else {
            self.added[i - self.incoming.len()].issuer
        }
    }

    /// Runs `rules`; `Ok(Some(rule))` when a `deny()` fired.
    pub(crate) fn run(&mut self, rules: &[CRule]) -> Result<Option<RuleRef>, PolicyEvaluationError> {
        for rule in rules {
            let before = (self.added.len(), self.trace);
            let fired = self.matches(rule)?;
            if fired {
                match &rule.action {
                    CAction::Permit => self.permitted = true,
                    CAction::Deny => {
                        self.record(rule, true, before.0);
                        return Ok(Some(rule.rref.clone()));
                    }
                    CAction::Add(spec) => self.apply(rule, spec, Target::Incoming)?,
                    CAction::Issue(spec) => self.apply(rule, spec, Target::Issued)?,
                    CAction::IssueProperty(spec) => self.apply(rule, spec, Target::Property)?,
                }
            }
            if before.1 {
                self.record(rule, fired, before.0);
            }
        }
        Ok(None)
    }

    pub(crate) fn permitted(&self) -> bool {
        self.permitted
    }

    fn record(&mut self, rule: &CRule, fired: bool, added_from: usize) {
        if !self.trace {
            return;
        }
        let added = self.added[added_from..]
            .iter()
            .map(|w| (w.name.to_string(), w.value.to_claim()))
            .collect();
        self.result.trace.push(RuleTrace {
            rule: rule.rref.clone(),
            fired,
            added,
        });
    }

    /// Evaluates the conditions of `rule`, binding identifiers.
    fn matches(&mut self, rule: &CRule) -> Result<bool, PolicyEvaluationError> {
        if self.bindings.len() < rule.slots {
            self.bindings.resize_with(rule.slots, Vec::new);
        }
        for b in &mut self.bindings[..rule.slots] {
            b.clear();
        }
        for cond in &rule.conditions {
            // Right-hand sides do not depend on the claim being tested: evaluate them once.
            let mut rhs: Vec<Vec<RVal>> = Vec::new();
            if cond.tests.iter().any(|t| !matches!(t.rhs, CExpr::Lit(_))) {
                for t in &cond.tests {
                    rhs.push(if matches!(t.rhs, CExpr::Lit(_)) {
                        Vec::new()
                    } else {
                        self.eval(rule, &t.rhs)?
                    });
                }
            }
            let mut found = Vec::new();
            let mut any = false;
            for i in 0..self.len() {
                if self.claim_matches(i, cond, &rhs) {
                    any = true;
                    match cond.slot {
                        Some(_) => found.push(i),
                        None => break,
                    }
                }
            }
            if any == cond.negated {
                return Ok(false);
            }
            if let Some(slot) = cond.slot {
                self.bindings[slot] = found;
            }
        }
        Ok(true)
    }

    fn claim_matches(&self, i: usize, cond: &CCond, rhs: &[Vec<RVal>]) -> bool {
        for (k, t) in cond.tests.iter().enumerate() {
            let dynamic = rhs.get(k).map_or(&[][..], Vec::as_slice);
            // Fast path for the common `type=="name"` test: no value conversion.
            if let (CExpr::Lit(Val::Str(s)), CompareOp::Eq | CompareOp::Ne) = (&t.rhs, t.op) {
                let literal_eq = match t.property {
                    Property::Type => Some(self.name(i) == &**s),
                    Property::Issuer => Some(self.issuer(i).as_str() == &**s),
                    _ => None,
                };
                if let Some(eq) = literal_eq {
                    if eq != (t.op == CompareOp::Eq) {
                        return false;
                    }
                    continue;
                }
            }
            let (name, value, issuer, _) = self.claim(i);
            let subject = match t.property {
                Property::Type => Val::Str(name.into()),
                Property::Value => value,
                Property::ValueType => Val::Str(value.value_type().as_str().into()),
                Property::Issuer => Val::Str(issuer.as_str().into()),
            };
            let ok = match &t.rhs {
                CExpr::Lit(v) => compare(&subject, t.op, v),
                _ => match t.op {
                    // `!=` against a set: different from every member.
                    CompareOp::Ne => dynamic.iter().all(|r| compare(&subject, CompareOp::Ne, &r.v)),
                    op => dynamic.iter().any(|r| compare(&subject, op, &r.v)),
                },
            };
            if !ok {
                return false;
            }
        }
        true
    }

    fn eval(&mut self, rule: &CRule, e: &CExpr) -> Result<Vec<RVal>, PolicyEvaluationError> {
        let err = |message: String| PolicyEvaluationError::Function {
            rule: rule.rref.clone(),
            message,
        };
        Ok(match e {
            CExpr::Lit(v) => vec![RVal {
                v: v.clone(),
                ro: false,
            }],
            CExpr::Ref(slot, property) => {
                let ids = self.bindings.get(*slot).cloned().unwrap_or_default();
                ids.into_iter()
                    .map(|i| {
                        let (name, value, issuer, ro) = self.claim(i);
                        let v = match property {
                            Property::Type => Val::Str(name.into()),
                            Property::Value => value,
                            Property::ValueType => Val::Str(value.value_type().as_str().into()),
                            Property::Issuer => Val::Str(issuer.as_str().into()),
                        };
                        RVal { v, ro }
                    })
                    .collect()
            }
            CExpr::JmesPath(data, query) => {
                let data = self.eval(rule, data)?;
                let queries: Vec<(Arc<jmes::Query>, bool)> = match query {
                    Query::Compiled(q) => vec![(Arc::clone(q), false)],
                    Query::Dynamic(q) => {
                        let mut out = Vec::new();
                        for qv in self.eval(rule, q)? {
                            let Val::Str(s) = &qv.v else {
                                return Err(err(format!(
                                    "JmesPath: the query must be a string, found {}",
                                    qv.v.describe()
                                )));
                            };
                            out.push((functions::compile_jmespath(s).map_err(&err)?, qv.ro));
                        }
                        out
                    }
                };
                let mut out = Vec::with_capacity(data.len());
                for d in &data {
                    let json = functions::as_json(&d.v, "JmesPath").map_err(&err)?;
                    for (q, qro) in &queries {
                        let r = q.search(&json).map_err(&err)?;
                        out.push(RVal {
                            v: Val::Var(Arc::new(r)),
                            ro: d.ro || *qro,
                        });
                    }
                }
                out
            }
            CExpr::Call(f, args) => {
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    vals.push(self.eval(rule, a)?);
                }
                call(*f, &vals).map_err(err)?
            }
        })
    }

    fn apply(&mut self, rule: &CRule, spec: &CSpec, target: Target) -> Result<(), PolicyEvaluationError> {
        let mut new: Vec<(Cow<'a, str>, Val, bool)> = Vec::new();
        match spec {
            CSpec::Copy(slot) => {
                let ids = self.bindings.get(*slot).cloned().unwrap_or_default();
                for i in ids {
                    let (name, value, _, ro) = self.claim(i);
                    new.push((Cow::Owned(name.to_owned()), value, ro));
                }
            }
            CSpec::Build {
                name,
                value,
                value_type,
            } => {
                let names = self.eval(rule, name)?;
                let values = self.eval(rule, value)?;
                for n in &names {
                    let Val::Str(n) = &n.v else {
                        return Err(PolicyEvaluationError::Function {
                            rule: rule.rref.clone(),
                            message: format!("a claim type must be a string, found {}", n.v.describe()),
                        });
                    };
                    for v in &values {
                        let converted = match value_type {
                            Some(t) => convert(&v.v, *t).ok_or_else(|| PolicyEvaluationError::Function {
                                rule: rule.rref.clone(),
                                message: format!("{} cannot be read as valueType {}", v.v.describe(), t.as_str()),
                            })?,
                            None => v.v.clone(),
                        };
                        new.push((Cow::Owned(n.to_string()), converted, v.ro));
                    }
                }
            }
        }
        for (name, value, ro) in new {
            // MAA: adding or issuing an empty value is a no-op.
            if value.is_empty() {
                continue;
            }
            if ro && target != Target::Incoming {
                return Err(PolicyEvaluationError::ReadOnly {
                    rule: rule.rref.clone(),
                    claim: name.into_owned(),
                });
            }
            let out = Claim {
                name: Cow::Owned(name.to_string()),
                value: value.to_claim(),
                issuer: ClaimIssuer::AttestationPolicy,
            };
            match target {
                Target::Incoming => {}
                Target::Issued => self.result.issued.push(out),
                Target::Property => self.result.properties.push(out),
            }
            self.added.push(Working {
                name,
                value,
                issuer: ClaimIssuer::AttestationPolicy,
                ro,
            });
        }
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Incoming,
    Issued,
    Property,
}

fn incoming_slice(set: &ClaimSet) -> &[Claim] {
    set.as_slice()
}

/// Compares by value type: integers order, everything else only (in)equals.
fn compare(subject: &Val, op: CompareOp, rhs: &Val) -> bool {
    match op {
        CompareOp::Eq => subject.equals(rhs),
        CompareOp::Ne => !subject.equals(rhs),
        _ => match (subject, rhs) {
            (Val::Int(a), Val::Int(b)) => match op {
                CompareOp::Lt => a < b,
                CompareOp::Le => a <= b,
                CompareOp::Gt => a > b,
                _ => a >= b,
            },
            _ => false,
        },
    }
}

/// `valueType=…` in a claim: converts the value, or `None` when it cannot be read that way.
fn convert(v: &Val, t: ValueType) -> Option<Val> {
    match (t, v) {
        (ValueType::String, Val::Bool(b)) => Some(Val::Str(b.to_string().into())),
        (ValueType::String, Val::Int(i)) => Some(Val::Str(i.to_string().into())),
        (ValueType::String, other) => Some(other.clone()),
        (ValueType::Integer, Val::Int(i)) => Some(Val::Int(*i)),
        (ValueType::Integer, Val::Str(s)) => s.trim().parse().ok().map(Val::Int),
        (ValueType::Boolean, Val::Bool(b)) => Some(Val::Bool(*b)),
        (ValueType::Boolean, Val::Str(s)) => match &**s {
            "true" | "True" => Some(Val::Bool(true)),
            "false" | "False" => Some(Val::Bool(false)),
            _ => None,
        },
        _ => None,
    }
}

/// The functions other than `JmesPath` (which needs the evaluator's JSON cache).
fn call(f: Function, args: &[Vec<RVal>]) -> Result<Vec<RVal>, String> {
    let name = f.as_str();
    match f {
        Function::JsonToClaimValue => {
            let mut out = Vec::new();
            for a in &args[0] {
                let json = functions::as_json(&a.v, name)?;
                functions::json_to_claim_value(&json, a.ro, &mut out)?;
            }
            Ok(out)
        }
        Function::IsSubsetOf => {
            let subset = args[0].iter().all(|a| args[1].iter().any(|b| a.v.equals(&b.v)));
            Ok(vec![RVal {
                v: Val::Bool(subset),
                ro: false,
            }])
        }
        Function::ContainsOnlyValue => {
            let [single] = args[1].as_slice() else {
                return Err(format!(
                    "{name}: the second argument must be a single value, found {}",
                    args[1].len()
                ));
            };
            let only = !args[0].is_empty() && args[0].iter().all(|a| a.v.equals(&single.v));
            Ok(vec![RVal {
                v: Val::Bool(only),
                ro: false,
            }])
        }
        Function::AppendString => {
            let mut out = Vec::new();
            for a in &args[0] {
                for b in &args[1] {
                    match (&a.v, &b.v) {
                        (Val::Str(x), Val::Str(y)) => out.push(RVal {
                            v: Val::Str(format!("{x}{y}").into()),
                            ro: a.ro || b.ro,
                        }),
                        _ => {
                            return Err(format!(
                                "{name}: both arguments must be strings, found {} and {}",
                                a.v.describe(),
                                b.v.describe()
                            ));
                        }
                    }
                }
            }
            Ok(out)
        }
        Function::NegateBool => args[0]
            .iter()
            .map(|a| match a.v {
                Val::Bool(b) => Ok(RVal {
                    v: Val::Bool(!b),
                    ro: a.ro,
                }),
                _ => Err(format!(
                    "{name}: the argument must be a Boolean, found {}",
                    a.v.describe()
                )),
            })
            .collect(),
        // Evaluated by the evaluator itself.
        Function::JmesPath => Err("JmesPath evaluated out of place".to_owned()),
    }
}
