//! MAA's attestation policy language: parser, compiler and evaluator.
//!
//! A policy is compiled once, when it is stored ([`Policy::compile`]), and then evaluated against
//! the incoming claims of each attestation ([`Policy::evaluate`]) without re-parsing. The crate
//! knows nothing of HTTP or of evidence formats: claims come in as an
//! [`attestd_claims::ClaimSet`], and the outgoing and property claims go out the same way.
//!
//! ```
//! use attestd_claims::ClaimSet;
//! use attestd_policy::Policy;
//!
//! let policy = Policy::compile(
//!     "version=1.0; authorizationrules { [type==\"x-ms-sgx-is-debuggable\", value==false] => permit(); };
//!      issuancerules { c:[type==\"x-ms-sgx-svn\"] => issue(type=\"svn\", value=c.value); };",
//! )?
//! .policy;
//! let mut claims = ClaimSet::new();
//! claims.add("x-ms-sgx-is-debuggable", false);
//! claims.add("x-ms-sgx-svn", 3i64);
//! let result = policy.evaluate(&claims)?;
//! assert_eq!(result.issued.value("svn").and_then(|v| v.as_i64()), Some(3));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

pub mod defaults;
mod error;
mod eval;
mod functions;
mod jmes;
pub mod syntax;
mod value;

use attestd_claims::{ClaimSet, ClaimValue};
use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub use error::{PolicyEvaluationError, PolicyParsingError, RuleRef};
pub use eval::{Evaluation, RuleTrace};
pub use syntax::{PolicyAst, Pos, Section, Version, Warning};

use eval::{CRule, Evaluator};

/// A compiled policy: the text it came from, byte-exact, and a form ready to evaluate.
#[derive(Debug)]
pub struct Policy {
    text: String,
    hash: String,
    ast: PolicyAst,
    configuration: Vec<CRule>,
    authorization: Vec<CRule>,
    issuance: Vec<CRule>,
}

/// The result of compiling: the policy and the warnings about accepted variations.
#[derive(Debug)]
pub struct Compiled {
    /// The compiled policy.
    pub policy: Policy,
    /// Documented variations that were accepted (e.g. `=` in a condition); empty for a policy
    /// written exactly in MAA's grammar.
    pub warnings: Vec<Warning>,
}

impl Policy {
    /// Parses and compiles `text`.
    pub fn compile(text: &str) -> Result<Compiled, PolicyParsingError> {
        let parsed = syntax::parse(text)?;
        let ast = parsed.ast;
        let policy = Policy {
            text: text.to_owned(),
            hash: policy_hash(text),
            configuration: eval::compile_rules(Section::Configuration, ast.configuration.as_deref().unwrap_or(&[])),
            authorization: eval::compile_rules(Section::Authorization, &ast.authorization),
            issuance: eval::compile_rules(Section::Issuance, ast.issuance.as_deref().unwrap_or(&[])),
            ast,
        };
        Ok(Compiled {
            policy,
            warnings: parsed.warnings,
        })
    }

    /// The policy text exactly as given.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The grammar version.
    pub fn version(&self) -> Version {
        self.ast.version
    }

    /// The syntax tree.
    pub fn ast(&self) -> &PolicyAst {
        &self.ast
    }

    /// `x-ms-policy-hash` of the text (see [`policy_hash`]).
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The property claims of `configurationrules`, evaluated without evidence (e.g.
    /// `x-ms-sgx-tcbidentifier`, `required_pcr_mask`), checked against their allowed values.
    /// Verifiers read them before they appraise evidence.
    pub fn configuration(&self) -> Result<ClaimSet, PolicyEvaluationError> {
        let empty = ClaimSet::new();
        let mut ev = Evaluator::new(&empty, false);
        // Configuration rules cannot deny (the parser rejects deny() outside authorization).
        ev.run(&self.configuration)?;
        check_properties(&ev.result.properties)?;
        Ok(ev.result.properties)
    }

    /// Evaluates the policy against `incoming` claims: configuration rules, then authorization
    /// rules (a `deny()` or the absence of a `permit()` fails), then issuance rules.
    pub fn evaluate(&self, incoming: &ClaimSet) -> Result<Evaluation, PolicyEvaluationError> {
        self.run(incoming, false)
    }

    /// Like [`Policy::evaluate`], and records what every rule did in [`Evaluation::trace`].
    /// On failure the trace up to the failing rule is returned beside the error.
    pub fn evaluate_traced(&self, incoming: &ClaimSet) -> (Result<Evaluation, PolicyEvaluationError>, Vec<RuleTrace>) {
        let mut ev = Evaluator::new(incoming, true);
        let outcome = self.run_with(&mut ev);
        let trace = std::mem::take(&mut ev.result.trace);
        match outcome {
            Ok(()) => {
                let mut result = ev.result;
                result.trace = trace.clone();
                (Ok(result), trace)
            }
            Err(e) => (Err(e), trace),
        }
    }

    fn run(&self, incoming: &ClaimSet, trace: bool) -> Result<Evaluation, PolicyEvaluationError> {
        let mut ev = Evaluator::new(incoming, trace);
        self.run_with(&mut ev)?;
        Ok(ev.result)
    }

    fn run_with(&self, ev: &mut Evaluator<'_>) -> Result<(), PolicyEvaluationError> {
        ev.run(&self.configuration)?;
        if let Some(rule) = ev.run(&self.authorization)? {
            return Err(PolicyEvaluationError::Denied { rule });
        }
        if !ev.permitted() {
            return Err(PolicyEvaluationError::NoPermit);
        }
        ev.run(&self.issuance)?;
        check_properties(&ev.result.properties)
    }
}

/// MAA's `x-ms-policy-hash`: BASE64URL(SHA-256(BASE64URL(UTF-8 text))), i.e. the hash of the
/// `AttestationPolicy` member as it appears in the policy JWS (reference C.6).
pub fn policy_hash(text: &str) -> String {
    let encoded = URL_SAFE_NO_PAD.encode(text.as_bytes());
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, encoded.as_bytes()).as_ref())
}

/// The longest token lifetime a policy may ask for: one year (reference B.6).
pub const MAX_REPORT_VALIDITY_MINUTES: i64 = 365 * 24 * 60;

/// Checks the documented property claims against their types and bounds.
fn check_properties(props: &ClaimSet) -> Result<(), PolicyEvaluationError> {
    for c in props {
        let invalid = |message: &str| PolicyEvaluationError::InvalidProperty {
            name: c.name.to_string(),
            message: message.to_owned(),
        };
        match (&*c.name, &c.value) {
            ("report_validity_in_minutes", ClaimValue::Integer(m)) if (1..=MAX_REPORT_VALIDITY_MINUTES).contains(m) => {
            }
            ("report_validity_in_minutes", _) => return Err(invalid("must be an integer from 1 to 525600 (one year)")),
            ("omit_x5c" | "require_valid_aik_cert", ClaimValue::Bool(_)) => {}
            ("omit_x5c" | "require_valid_aik_cert", _) => return Err(invalid("must be a Boolean")),
            ("required_pcr_mask", ClaimValue::Integer(m)) if (0..=0xFF_FFFF).contains(m) => {}
            ("required_pcr_mask", _) => {
                return Err(invalid("must be an integer bit mask of PCRs 0..23 (0 to 16777215)"));
            }
            ("x-ms-sgx-tcbidentifier", ClaimValue::String(_)) => {}
            ("x-ms-sgx-tcbidentifier", _) => {
                return Err(invalid("must be a string such as \"azuredefault\" or \"10\""));
            }
            _ => {}
        }
    }
    Ok(())
}
