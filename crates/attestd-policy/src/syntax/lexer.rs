//! Tokens of the policy language, with their positions for error messages.

use super::{Pos, Warning};

/// A token kind.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    /// A name: keywords, identifiers, property and function names (keywords are recognised by
    /// the parser, case-insensitively, so that it can warn about unusual casing).
    Ident(String),
    /// A string literal, escapes resolved.
    Str(String),
    /// Digits, possibly with one `.` (`1.2` in `version=1.2`), or a negative integer.
    Number(String),
    Punct(&'static str),
    Eof,
}

impl Tok {
    /// How the token is named in "expected …, found …" messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("'{s}'"),
            Tok::Str(s) => format!("string \"{}\"", truncate(s)),
            Tok::Number(n) => format!("number {n}"),
            Tok::Punct(p) => format!("'{p}'"),
            Tok::Eof => "end of policy".to_owned(),
        }
    }
}

fn truncate(s: &str) -> String {
    if s.chars().count() > 24 {
        let mut t: String = s.chars().take(24).collect();
        t.push('…');
        t
    } else {
        s.to_owned()
    }
}

/// A token and where it starts.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) pos: Pos,
}

/// A lexical error: position and what is wrong.
#[derive(Debug)]
pub(crate) struct LexError {
    pub(crate) pos: Pos,
    pub(crate) expected: String,
    pub(crate) found: String,
}

// Longest first, so that `==` is not read as `=` `=`.
const PUNCTS: [&str; 20] = [
    "==", "!=", "<=", ">=", "&&", "=>", "=", "<", ">", "!", ";", ",", ":", ".", "(", ")", "[", "]", "{", "}",
];

/// Splits `src` into tokens. Comments (`// …` and `/* … */`) and whitespace are dropped.
pub(crate) fn lex(src: &str, warnings: &mut Vec<Warning>) -> Result<Vec<Token>, LexError> {
    let mut out = Vec::with_capacity(src.len() / 4);
    let mut chars = src.char_indices().peekable();
    let mut line = 1u32;
    let mut line_start = 0usize;
    let pos_at = |offset: usize, line: u32, line_start: usize| Pos {
        line,
        column: src[line_start..offset].chars().count() as u32 + 1,
        offset,
    };
    while let Some(&(i, c)) = chars.peek() {
        if c == '\n' {
            chars.next();
            line += 1;
            line_start = i + 1;
            continue;
        }
        if c.is_whitespace() || c == '\u{feff}' {
            chars.next();
            continue;
        }
        let pos = pos_at(i, line, line_start);
        let rest = &src[i..];
        if rest.starts_with("//") {
            while let Some(&(_, c)) = chars.peek() {
                if c == '\n' {
                    break;
                }
                chars.next();
            }
            continue;
        }
        if let Some(comment) = rest.strip_prefix("/*") {
            let Some(end) = comment.find("*/") else {
                return Err(LexError {
                    pos,
                    expected: "'*/' closing the comment".into(),
                    found: "end of policy".into(),
                });
            };
            let body = &rest[..end + 4];
            for (j, ch) in body.char_indices() {
                if ch == '\n' {
                    line += 1;
                    line_start = i + j + 1;
                }
            }
            while chars.peek().is_some_and(|&(j, _)| j < i + end + 4) {
                chars.next();
            }
            continue;
        }
        if c == '"' || c == '\u{201c}' {
            if c == '\u{201c}' {
                warnings.push(Warning::new(
                    pos,
                    "a string opens with a typographic quote (“); read as '\"'",
                ));
            }
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    None => {
                        return Err(LexError {
                            pos,
                            expected: "'\"' closing the string".into(),
                            found: "end of policy".into(),
                        });
                    }
                    Some((_, '"')) => break,
                    Some((j, '\u{201d}' | '\u{201c}')) => {
                        warnings.push(Warning::new(
                            pos_at(j, line, line_start),
                            "a string closes with a typographic quote (”); read as '\"'",
                        ));
                        break;
                    }
                    Some((j, '\n')) => {
                        // Strings may span lines; keep positions right.
                        line += 1;
                        line_start = j + 1;
                        s.push('\n');
                    }
                    Some((_, '\\')) => match chars.next() {
                        Some((_, '"')) => s.push('"'),
                        Some((_, '\\')) => s.push('\\'),
                        Some((_, '/')) => s.push('/'),
                        Some((_, 'n')) => s.push('\n'),
                        Some((_, 'r')) => s.push('\r'),
                        Some((_, 't')) => s.push('\t'),
                        Some((_, q @ ('\u{201c}' | '\u{201d}'))) => s.push(q),
                        // Unknown escapes are kept as written (MAA's samples rely on `\\` only).
                        Some((_, other)) => {
                            s.push('\\');
                            s.push(other);
                        }
                        None => {
                            return Err(LexError {
                                pos,
                                expected: "'\"' closing the string".into(),
                                found: "end of policy".into(),
                            });
                        }
                    },
                    Some((_, ch)) => s.push(ch),
                }
            }
            out.push(Token { tok: Tok::Str(s), pos });
            continue;
        }
        let negative = c == '-' && rest[1..].starts_with(|d: char| d.is_ascii_digit());
        if c.is_ascii_digit() || negative {
            let bytes = rest.as_bytes();
            let mut len = usize::from(negative);
            while len < bytes.len() && bytes[len].is_ascii_digit() {
                len += 1;
            }
            // One fractional part, for version numbers such as `1.2`.
            if !negative && len + 1 < bytes.len() && bytes[len] == b'.' && bytes[len + 1].is_ascii_digit() {
                len += 1;
                while len < bytes.len() && bytes[len].is_ascii_digit() {
                    len += 1;
                }
            }
            while chars.peek().is_some_and(|&(j, _)| j < i + len) {
                chars.next();
            }
            out.push(Token {
                tok: Tok::Number(rest[..len].to_owned()),
                pos,
            });
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let end = rest
                .char_indices()
                .find(|&(_, ch)| !(ch.is_alphanumeric() || ch == '_'))
                .map_or(src.len(), |(j, _)| i + j);
            while chars.peek().is_some_and(|&(j, _)| j < end) {
                chars.next();
            }
            out.push(Token {
                tok: Tok::Ident(src[i..end].to_owned()),
                pos,
            });
            continue;
        }
        if let Some(p) = PUNCTS.iter().find(|p| rest.starts_with(**p)) {
            for _ in 0..p.len() {
                chars.next();
            }
            out.push(Token {
                tok: Tok::Punct(p),
                pos,
            });
            continue;
        }
        return Err(LexError {
            pos,
            expected: "a token".into(),
            found: format!("character '{}'", c.escape_debug()),
        });
    }
    let end = src.len();
    out.push(Token {
        tok: Tok::Eof,
        pos: pos_at(end, line, line_start),
    });
    Ok(out)
}
