//! The two ways a policy fails: it does not parse, or evaluating it does not permit.

use std::fmt;
use std::sync::Arc;

use crate::syntax::{Pos, Section};

/// A policy text that is not a valid policy (MAA's `PolicyParsingError`).
///
/// Says where (line, column), in which grammar rule, what was expected and what was found, and
/// shows the offending line with a caret under the position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyParsingError {
    /// Where the error is.
    pub pos: Pos,
    /// The grammar rule being parsed, e.g. `policy > authorizationrules`.
    pub rule: &'static str,
    /// What would have been valid here.
    pub expected: String,
    /// What is there instead.
    pub found: String,
    /// The text of the offending line.
    pub line_text: String,
}

impl PolicyParsingError {
    pub(crate) fn new(src: &str, pos: Pos, rule: &'static str, expected: String, found: String) -> Self {
        let line_text = src
            .lines()
            .nth(pos.line.saturating_sub(1) as usize)
            .unwrap_or("")
            .trim_end_matches('\r')
            .to_owned();
        PolicyParsingError {
            pos,
            rule,
            expected,
            found,
            line_text,
        }
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        "PolicyParsingError"
    }
}

impl fmt::Display for PolicyParsingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Failing rule: '{}' at {}: expected {}, found {}",
            self.rule, self.pos, self.expected, self.found
        )?;
        // The caret line keeps tabs so that it lines up under the offending line.
        let caret: String = self
            .line_text
            .chars()
            .take(self.pos.column.saturating_sub(1) as usize)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        write!(f, "\n    {}\n    {caret}^", self.line_text)
    }
}

impl std::error::Error for PolicyParsingError {}

/// A rule of a compiled policy, as errors and traces name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleRef {
    /// The section the rule is in.
    pub section: Section,
    /// Its index in the section, from 0.
    pub index: usize,
    /// The line it starts on in the policy text.
    pub line: u32,
    /// The rule in canonical form.
    pub text: Arc<str>,
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} rule {} (line {}): {}",
            self.section.as_str(),
            self.index + 1,
            self.line,
            self.text
        )
    }
}

/// Evaluating a policy did not permit the attestation (MAA's `PolicyEvaluationError`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyEvaluationError {
    /// A `deny()` rule fired.
    Denied {
        /// The rule that denied.
        rule: RuleRef,
    },
    /// No `permit()` rule fired in `authorizationrules`.
    NoPermit,
    /// A function was given arguments it cannot take (e.g. invalid JSON, a fraction).
    Function {
        /// The rule evaluated.
        rule: RuleRef,
        /// What went wrong.
        message: String,
    },
    /// A rule tried to issue a read-only claim value (e.g. derived from `pcrs`).
    ReadOnly {
        /// The rule evaluated.
        rule: RuleRef,
        /// The claim it tried to issue.
        claim: String,
    },
    /// A configuration or property claim has a value outside what it allows.
    InvalidProperty {
        /// The property claim, e.g. `report_validity_in_minutes`.
        name: String,
        /// What it must be.
        message: String,
    },
}

impl PolicyEvaluationError {
    /// The stable error code (one for all evaluation failures, as MAA).
    pub fn code(&self) -> &'static str {
        "PolicyEvaluationError"
    }
}

impl fmt::Display for PolicyEvaluationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyEvaluationError::Denied { rule } => write!(
                f,
                "Policy Engine Exception: A Deny claim was issued, authorization failed. Denied by {rule}"
            ),
            PolicyEvaluationError::NoPermit => f.write_str(
                "Policy Engine Exception: No Permit claim was issued in the authorizationrules section, authorization failed.",
            ),
            PolicyEvaluationError::Function { rule, message } => {
                write!(f, "Policy Engine Exception: {message}; in {rule}")
            }
            PolicyEvaluationError::ReadOnly { rule, claim } => write!(
                f,
                "Policy Engine Exception: claim '{claim}' has a read-only value and cannot be issued; in {rule}"
            ),
            PolicyEvaluationError::InvalidProperty { name, message } => {
                write!(f, "Policy Engine Exception: property claim '{name}' {message}")
            }
        }
    }
}

impl std::error::Error for PolicyEvaluationError {}
