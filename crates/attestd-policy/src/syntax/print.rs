//! Prints a syntax tree as canonical policy text: documented spelling, one rule per line.
//! Parsing the output gives the same tree (a property test checks it).

use std::fmt::{self, Display, Formatter, Write};

use super::ast::*;

impl Display for PolicyAst {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(f, "version={};", self.version.as_str())?;
        let sections = [
            (Section::Configuration, self.configuration.as_ref()),
            (Section::Authorization, Some(&self.authorization)),
            (Section::Issuance, self.issuance.as_ref()),
        ];
        for (section, rules) in sections {
            let Some(rules) = rules else { continue };
            writeln!(f, "{}\n{{", section.as_str())?;
            for rule in rules {
                writeln!(f, "    {rule}")?;
            }
            writeln!(f, "}};")?;
        }
        Ok(())
    }
}

impl Display for Rule {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, c) in self.conditions.iter().enumerate() {
            if i > 0 {
                f.write_str(" && ")?;
            }
            write!(f, "{c}")?;
        }
        if !self.conditions.is_empty() {
            f.write_char(' ')?;
        }
        write!(f, "=> {};", self.action)
    }
}

impl Display for Condition {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.negated {
            f.write_char('!')?;
        }
        if let Some(ident) = &self.ident {
            write!(f, "{ident}:")?;
        }
        f.write_char('[')?;
        for (i, t) in self.tests.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}{}{}", t.property.as_str(), t.op.as_str(), t.rhs)?;
        }
        f.write_char(']')
    }
}

impl Display for Action {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Action::Permit | Action::Deny => write!(f, "{}()", self.keyword()),
            Action::Add(spec) | Action::Issue(spec) | Action::IssueProperty(spec) => {
                write!(f, "{}({spec})", self.keyword())
            }
        }
    }
}

impl Display for ClaimSpec {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            ClaimSpec::Copy(ident) => write!(f, "claim={ident}"),
            ClaimSpec::Build(args) => {
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}={}", a.property.as_str(), a.value)?;
                }
                Ok(())
            }
        }
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Str(s) => write_string(f, s),
            Expr::Int(i) => write!(f, "{i}"),
            Expr::Bool(b) => write!(f, "{b}"),
            Expr::Ref(ident, p) => write!(f, "{ident}.{}", p.as_str()),
            Expr::Call(function, args) => {
                write!(f, "{}(", function.as_str())?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_char(')')
            }
        }
    }
}

fn write_string(f: &mut Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            // Typographic quotes can close a string (a leniency), so they are escaped.
            '\u{201c}' | '\u{201d}' => {
                f.write_char('\\')?;
                f.write_char(c)?
            }
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}
