//! The policy language's syntax: tokens, the syntax tree, the parser and a printer.
//!
//! The grammar is reconstructed from MAA's documentation (reference B.3); see `parser` for the
//! leniencies accepted with a warning.

mod ast;
mod lexer;
mod parser;
mod print;

pub use ast::{
    Action, ClaimArg, ClaimSpec, CompareOp, Condition, Expr, Function, PolicyAst, PropCond, Property, Rule, Section,
    Version,
};
pub use parser::{Parsed, parse};

use std::fmt;

/// A position in the policy text (1-based line and column, in characters; byte offset).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    /// Line number, from 1.
    pub line: u32,
    /// Column number in characters, from 1.
    pub column: u32,
    /// Byte offset from the start of the text.
    pub offset: usize,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Something the parser accepted although MAA's documented grammar does not have it (a
/// documented variation such as `=` inside a condition), or a construct that has no effect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// Where.
    pub pos: Pos,
    /// What, and how it was read.
    pub message: String,
}

impl Warning {
    pub(crate) fn new(pos: Pos, message: impl Into<String>) -> Self {
        Warning {
            pos,
            message: message.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "warning at {}: {}", self.pos, self.message)
    }
}
