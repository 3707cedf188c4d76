//! A recursive-descent parser for MAA's policy grammar (reference B.3).
//!
//! Accepted with a warning, because MAA's own documentation contains them: `=` for `==` inside a
//! condition, keywords in unusual case (`Issuancerules`), a missing `;` after a rule or a section,
//! typographic quotes around strings, and `issue`/`issueproperty` in `authorizationrules` (read
//! as `add`, since that section cannot issue claims).

use super::ast::*;
use super::lexer::{Tok, Token, lex};
use super::{Pos, Warning};
use crate::error::PolicyParsingError;

/// The result of parsing: the tree and the warnings.
#[derive(Debug)]
pub struct Parsed {
    /// The syntax tree.
    pub ast: PolicyAst,
    /// Accepted variations and constructs without effect.
    pub warnings: Vec<Warning>,
}

/// Parses a policy.
pub fn parse(src: &str) -> Result<Parsed, PolicyParsingError> {
    let mut warnings = Vec::new();
    let tokens =
        lex(src, &mut warnings).map_err(|e| PolicyParsingError::new(src, e.pos, "policy", e.expected, e.found))?;
    let mut p = Parser {
        src,
        tokens,
        at: 0,
        warnings,
        version: Version::V1_0,
        context: "policy",
    };
    let ast = p.policy()?;
    Ok(Parsed {
        ast,
        warnings: p.warnings,
    })
}

struct Parser<'s> {
    src: &'s str,
    tokens: Vec<Token>,
    at: usize,
    warnings: Vec<Warning>,
    version: Version,
    /// The grammar rule being parsed, named as MAA's ANTLR errors name them.
    context: &'static str,
}

type PResult<T> = Result<T, PolicyParsingError>;

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.tokens[self.at.min(self.tokens.len() - 1)].tok
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.tokens[(self.at + n).min(self.tokens.len() - 1)].tok
    }

    fn pos(&self) -> Pos {
        self.tokens[self.at.min(self.tokens.len() - 1)].pos
    }

    fn bump(&mut self) -> Token {
        let t = self.tokens[self.at.min(self.tokens.len() - 1)].clone();
        if self.at < self.tokens.len() - 1 {
            self.at += 1;
        }
        t
    }

    fn error(&self, expected: impl Into<String>) -> PolicyParsingError {
        PolicyParsingError::new(
            self.src,
            self.pos(),
            self.context,
            expected.into(),
            self.peek().describe(),
        )
    }

    fn error_at(&self, pos: Pos, expected: impl Into<String>, found: impl Into<String>) -> PolicyParsingError {
        PolicyParsingError::new(self.src, pos, self.context, expected.into(), found.into())
    }

    fn warn(&mut self, pos: Pos, message: impl Into<String>) {
        self.warnings.push(Warning::new(pos, message));
    }

    fn is_punct(&self, p: &str) -> bool {
        matches!(self.peek(), Tok::Punct(q) if *q == p)
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        if self.is_punct(p) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, p: &str) -> PResult<()> {
        if self.eat_punct(p) {
            Ok(())
        } else {
            Err(self.error(format!("'{p}'")))
        }
    }

    /// The current token if it is the keyword `kw`, in any case (warning when not lower case as
    /// documented, or `canonical` for mixed-case keywords such as `valueType`).
    fn eat_keyword(&mut self, kw: &str) -> bool {
        let pos = self.pos();
        let Tok::Ident(s) = self.peek() else { return false };
        if s == kw {
            self.bump();
            return true;
        }
        if s.eq_ignore_ascii_case(kw) {
            let s = s.clone();
            self.bump();
            self.warn(pos, format!("keyword '{s}' read as '{kw}'"));
            return true;
        }
        false
    }

    /// `;` ending a rule or a section; a missing one is accepted with a warning when what follows
    /// cannot continue the construct anyway.
    fn end_semicolon(&mut self, what: &str) -> PResult<()> {
        if self.eat_punct(";") {
            return Ok(());
        }
        let pos = self.pos();
        let can_follow = match self.peek() {
            Tok::Punct(p) => matches!(*p, "}" | "[" | "!" | "=>"),
            Tok::Ident(_) => true,
            Tok::Eof => true,
            _ => false,
        };
        if can_follow {
            self.warn(pos, format!("missing ';' after {what}"));
            Ok(())
        } else {
            Err(self.error(format!("';' after {what}")))
        }
    }

    fn policy(&mut self) -> PResult<PolicyAst> {
        self.context = "policy > versionInfo";
        if !self.eat_keyword("version") {
            return Err(self.error("'version'"));
        }
        self.expect_punct("=")?;
        let pos = self.pos();
        let version = match self.peek().clone() {
            Tok::Number(n) => {
                self.bump();
                Version::parse(&n)
                    .ok_or_else(|| self.error_at(pos, "version 1.0, 1.1 or 1.2", format!("version {n}")))?
            }
            _ => return Err(self.error("a version number such as 1.2")),
        };
        self.version = version;
        self.end_semicolon("the version")?;

        let mut configuration = None;
        let mut authorization = None;
        let mut issuance = None;
        loop {
            let pos = self.pos();
            if matches!(self.peek(), Tok::Eof) {
                break;
            }
            let section = if self.eat_keyword("configurationrules") {
                Section::Configuration
            } else if self.eat_keyword("authorizationrules") {
                Section::Authorization
            } else if self.eat_keyword("issuancerules") {
                Section::Issuance
            } else {
                self.context = "policy";
                let expected = match (&configuration, &authorization, &issuance) {
                    (None, None, _) if version >= Version::V1_1 => "'configurationrules' or 'authorizationrules'",
                    (_, None, _) => "'authorizationrules'",
                    (_, Some(_), None) => "'issuancerules' or end of policy",
                    _ => "end of policy",
                };
                return Err(self.error(expected));
            };
            self.context = match section {
                Section::Configuration => "policy > configurationrules",
                Section::Authorization => "policy > authorizationrules",
                Section::Issuance => "policy > issuancerules",
            };
            // Sections come once each, in the documented order.
            let order_ok = match section {
                Section::Configuration => configuration.is_none() && authorization.is_none() && issuance.is_none(),
                Section::Authorization => authorization.is_none() && issuance.is_none(),
                Section::Issuance => issuance.is_none(),
            };
            if section == Section::Issuance && authorization.is_none() {
                self.context = "policy";
                return Err(self.error_at(pos, "'authorizationrules'", "'issuancerules'"));
            }
            if !order_ok {
                return Err(self.error_at(
                    pos,
                    "sections once each, in the order configurationrules, authorizationrules, issuancerules",
                    format!("'{}' here", section.as_str()),
                ));
            }
            if section == Section::Configuration && version < Version::V1_1 {
                return Err(self.error_at(
                    pos,
                    "'authorizationrules' (configurationrules need version 1.1 or later)",
                    "'configurationrules'",
                ));
            }
            let rules = self.section(section)?;
            match section {
                Section::Configuration => configuration = Some(rules),
                Section::Authorization => authorization = Some(rules),
                Section::Issuance => issuance = Some(rules),
            }
        }
        let Some(authorization) = authorization else {
            self.context = "policy";
            return Err(self.error("'authorizationrules'"));
        };
        Ok(PolicyAst {
            version,
            configuration,
            authorization,
            issuance,
        })
    }

    fn section(&mut self, section: Section) -> PResult<Vec<Rule>> {
        self.expect_punct("{")?;
        let mut rules = Vec::new();
        while !self.is_punct("}") {
            if matches!(self.peek(), Tok::Eof) {
                return Err(self.error("'}' closing the section"));
            }
            // `;;` and a stray `;` between rules are harmless.
            if self.eat_punct(";") {
                continue;
            }
            rules.push(self.rule(section)?);
        }
        self.bump();
        self.end_semicolon(&format!("'{}'", section.as_str()))?;
        Ok(rules)
    }

    fn rule(&mut self, section: Section) -> PResult<Rule> {
        let pos = self.pos();
        let mut conditions = Vec::new();
        if !self.is_punct("=>") {
            loop {
                conditions.push(self.condition(&conditions)?);
                if !self.eat_punct("&&") {
                    break;
                }
            }
        }
        if !self.eat_punct("=>") {
            return Err(self.error("'&&' or '=>'"));
        }
        let action = self.action(section, &conditions)?;
        self.end_semicolon("the rule")?;
        Ok(Rule {
            pos,
            conditions,
            action,
        })
    }

    fn condition(&mut self, earlier: &[Condition]) -> PResult<Condition> {
        let pos = self.pos();
        let negated = self.eat_punct("!");
        if negated && self.version < Version::V1_2 {
            return Err(self.error_at(pos, "a condition ('!' needs version 1.2)", "'!'"));
        }
        let mut ident = None;
        if let (Tok::Ident(name), Tok::Punct(":")) = (self.peek().clone(), self.peek_at(1).clone()) {
            if negated {
                return Err(self.error("'[' (a negated condition matches no claim, so it cannot bind an identifier)"));
            }
            if earlier.iter().any(|c| c.ident.as_deref() == Some(name.as_str())) {
                return Err(self.error(format!("a new identifier ('{name}' is already bound in this rule)")));
            }
            self.bump();
            self.bump();
            ident = Some(name);
        }
        self.expect_punct("[")?;
        let mut tests = Vec::new();
        if !self.is_punct("]") {
            loop {
                tests.push(self.prop_cond(earlier)?);
                if !self.eat_punct(",") {
                    break;
                }
            }
        }
        self.expect_punct("]")?;
        Ok(Condition { negated, ident, tests })
    }

    fn property(&mut self) -> PResult<Property> {
        let pos = self.pos();
        let Tok::Ident(s) = self.peek().clone() else {
            return Err(self.error("a claim property (type, value, valueType, issuer)"));
        };
        if let Some(p) = Property::parse_exact(&s) {
            self.bump();
            return Ok(p);
        }
        if let Some(p) = Property::parse_any_case(&s) {
            self.bump();
            self.warn(pos, format!("property '{s}' read as '{}'", p.as_str()));
            return Ok(p);
        }
        Err(self.error("a claim property (type, value, valueType, issuer)"))
    }

    fn prop_cond(&mut self, earlier: &[Condition]) -> PResult<PropCond> {
        let property = self.property()?;
        let pos = self.pos();
        let op = match self.peek() {
            Tok::Punct("==") => CompareOp::Eq,
            Tok::Punct("!=") => CompareOp::Ne,
            Tok::Punct("<") => CompareOp::Lt,
            Tok::Punct("<=") => CompareOp::Le,
            Tok::Punct(">") => CompareOp::Gt,
            Tok::Punct(">=") => CompareOp::Ge,
            Tok::Punct("=") => {
                self.warn(pos, "'=' in a condition read as '=='");
                CompareOp::Eq
            }
            _ => return Err(self.error("a comparison operator (==, !=, <, <=, >, >=)")),
        };
        self.bump();
        let rhs = self.expr(earlier)?;
        if op.is_ordering() && property != Property::Value {
            return Err(self.error_at(
                pos,
                format!("'==' or '!=' (the {} property is a string)", property.as_str()),
                format!("'{}'", op.as_str()),
            ));
        }
        Ok(PropCond { property, op, rhs })
    }

    fn action(&mut self, section: Section, conditions: &[Condition]) -> PResult<Action> {
        let pos = self.pos();
        let kw = match self.peek() {
            Tok::Ident(s) => s.to_ascii_lowercase(),
            _ => return Err(self.error("an action (permit, deny, add, issue, issueproperty)")),
        };
        let Tok::Ident(written) = self.peek().clone() else {
            return Err(self.error("an action"));
        };
        if !matches!(kw.as_str(), "permit" | "deny" | "add" | "issue" | "issueproperty") {
            return Err(self.error("an action (permit, deny, add, issue, issueproperty)"));
        }
        if written != kw {
            self.warn(pos, format!("action '{written}' read as '{kw}'"));
        }
        self.bump();
        self.expect_punct("(")?;
        let action = match kw.as_str() {
            "permit" | "deny" => {
                self.expect_punct(")")?;
                if section != Section::Authorization {
                    return Err(self.error_at(
                        pos,
                        format!("add, issue or issueproperty ({kw}() is only allowed in authorizationrules)"),
                        format!("'{kw}'"),
                    ));
                }
                if kw == "permit" { Action::Permit } else { Action::Deny }
            }
            _ => {
                let spec = self.claim_spec(conditions)?;
                self.expect_punct(")")?;
                match (kw.as_str(), section) {
                    ("add", _) => Action::Add(spec),
                    ("issue" | "issueproperty", Section::Authorization) => {
                        self.warn(
                            pos,
                            format!("'{kw}' in authorizationrules cannot put claims in the token; read as 'add'"),
                        );
                        Action::Add(spec)
                    }
                    ("issue", Section::Configuration) => {
                        self.warn(pos, "'issue' in configurationrules read as 'issueproperty'");
                        Action::IssueProperty(spec)
                    }
                    ("issue", _) => Action::Issue(spec),
                    _ => Action::IssueProperty(spec),
                }
            }
        };
        Ok(action)
    }

    fn claim_spec(&mut self, conditions: &[Condition]) -> PResult<ClaimSpec> {
        // claim=c
        if let (Tok::Ident(kw), Tok::Punct("=")) = (self.peek().clone(), self.peek_at(1).clone())
            && kw.eq_ignore_ascii_case("claim")
        {
            {
                let pos = self.pos();
                if kw != "claim" {
                    self.warn(pos, format!("'{kw}' read as 'claim'"));
                }
                self.bump();
                self.bump();
                let ipos = self.pos();
                let Tok::Ident(name) = self.peek().clone() else {
                    return Err(self.error("an identifier bound by a condition of this rule"));
                };
                if !conditions.iter().any(|c| c.ident.as_deref() == Some(name.as_str())) {
                    return Err(self.error_at(
                        ipos,
                        "an identifier bound by a condition of this rule",
                        format!("'{name}'"),
                    ));
                }
                self.bump();
                return Ok(ClaimSpec::Copy(name));
            }
        }
        let mut args: Vec<ClaimArg> = Vec::new();
        // issue("PlatformAttested", value=true): a positional first string is the type.
        if let Tok::Str(s) = self.peek().clone() {
            self.bump();
            args.push(ClaimArg {
                property: Property::Type,
                value: Expr::Str(s),
            });
            if !self.eat_punct(",") {
                return Err(self.error("',' and value=…"));
            }
        }
        loop {
            let pos = self.pos();
            let property = self.property()?;
            if args.iter().any(|a| a.property == property) {
                return Err(self.error_at(
                    pos,
                    "each claim property once",
                    format!("a second '{}'", property.as_str()),
                ));
            }
            self.expect_punct("=")?;
            let value = self.expr(conditions)?;
            args.push(ClaimArg { property, value });
            if !self.eat_punct(",") {
                break;
            }
        }
        for required in [Property::Type, Property::Value] {
            if !args.iter().any(|a| a.property == required) {
                return Err(self.error(format!("{}=… (a claim needs a type and a value)", required.as_str())));
            }
        }
        Ok(ClaimSpec::Build(args))
    }

    fn expr(&mut self, bound: &[Condition]) -> PResult<Expr> {
        let pos = self.pos();
        match self.peek().clone() {
            Tok::Str(s) => {
                self.bump();
                Ok(Expr::Str(s))
            }
            Tok::Number(n) => {
                self.bump();
                n.parse::<i64>()
                    .map(Expr::Int)
                    .map_err(|_| self.error_at(pos, "an integer (64-bit, no fraction)", format!("number {n}")))
            }
            Tok::Ident(name) => {
                if name == "true" || name == "false" {
                    self.bump();
                    return Ok(Expr::Bool(name == "true"));
                }
                if matches!(self.peek_at(1), Tok::Punct(".")) {
                    if !bound.iter().any(|c| c.ident.as_deref() == Some(name.as_str())) {
                        return Err(self.error_at(
                            pos,
                            "an identifier bound by an earlier condition of this rule",
                            format!("'{name}'"),
                        ));
                    }
                    self.bump();
                    self.bump();
                    let property = self.property()?;
                    return Ok(Expr::Ref(name, property));
                }
                if matches!(self.peek_at(1), Tok::Punct("(")) {
                    let function = Function::ALL.into_iter().find(|f| f.as_str() == name).or_else(|| {
                        Function::ALL
                            .into_iter()
                            .find(|f| f.as_str().eq_ignore_ascii_case(&name))
                    });
                    let Some(function) = function else {
                        return Err(self.error_at(
                            pos,
                            "a function (JmesPath, JsonToClaimValue, IsSubsetOf, AppendString, NegateBool, ContainsOnlyValue)",
                            format!("'{name}'"),
                        ));
                    };
                    if function.as_str() != name {
                        self.warn(pos, format!("function '{name}' read as '{}'", function.as_str()));
                    }
                    if self.version < Version::V1_2 {
                        return Err(self.error_at(
                            pos,
                            "a literal or a claim reference (functions need version 1.2)",
                            format!("'{name}('"),
                        ));
                    }
                    self.bump();
                    self.bump();
                    let mut args = Vec::new();
                    if !self.is_punct(")") {
                        loop {
                            args.push(self.expr(bound)?);
                            if !self.eat_punct(",") {
                                break;
                            }
                        }
                    }
                    self.expect_punct(")")?;
                    if args.len() != function.arity() {
                        return Err(self.error_at(
                            pos,
                            format!("{} argument(s) to {}", function.arity(), function.as_str()),
                            format!("{} argument(s)", args.len()),
                        ));
                    }
                    if function == Function::JmesPath
                        && let Expr::Str(q) = &args[1]
                        && let Err(e) = crate::functions::compile_jmespath(q)
                    {
                        return Err(self.error_at(pos, "a valid JMESPath query", e));
                    }
                    return Ok(Expr::Call(function, args));
                }
                Err(self
                    .error("a string, an integer, true, false, a claim reference such as c.value, or a function call"))
            }
            _ => {
                Err(self
                    .error("a string, an integer, true, false, a claim reference such as c.value, or a function call"))
            }
        }
    }
}
