//! Claims: the values that flow from evidence verifiers through the attestation policy into tokens.
//!
//! MAA's claim model (type, value, valueType, issuer) is used unchanged so that policies written for
//! MAA evaluate the same way here. Values are typed: a verifier states that `x-ms-sgx-svn` is an
//! integer once, and neither the policy engine nor token issuance has to guess.

#![forbid(unsafe_code)]

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// A claim name (MAA: the claim's `type`), e.g. `x-ms-sgx-mrenclave` or `$is-debuggable`.
///
/// Most names are compile-time constants, so the common case costs no allocation.
pub type ClaimName = Cow<'static, str>;

/// Who produced a claim (MAA: the claim's `issuer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClaimIssuer {
    /// Derived by the service from verified evidence (incoming claims).
    AttestationService,
    /// Added by a rule of the attestation policy.
    AttestationPolicy,
    /// Supplied by the attester without verification (e.g. TPM custom claims).
    CustomClaim,
}

impl ClaimIssuer {
    /// The name used in policies, e.g. `AttestationService`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimIssuer::AttestationService => "AttestationService",
            ClaimIssuer::AttestationPolicy => "AttestationPolicy",
            ClaimIssuer::CustomClaim => "CustomClaim",
        }
    }

    /// Parses a policy issuer name (exact spelling, as MAA documents it).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "AttestationService" => Some(ClaimIssuer::AttestationService),
            "AttestationPolicy" => Some(ClaimIssuer::AttestationPolicy),
            "CustomClaim" => Some(ClaimIssuer::CustomClaim),
            _ => None,
        }
    }
}

impl fmt::Display for ClaimIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The value type of a claim (MAA: `valueType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// `true` or `false`.
    Boolean,
    /// A signed 64-bit integer.
    Integer,
    /// Text. Structured values (JSON objects and arrays) also have this type in the policy language,
    /// because MAA's policy functions take them as JSON text.
    String,
}

impl ValueType {
    /// The name used in policies: `Boolean`, `Integer` or `String`.
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::Boolean => "Boolean",
            ValueType::Integer => "Integer",
            ValueType::String => "String",
        }
    }

    /// Parses a policy value type name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Boolean" => Some(ValueType::Boolean),
            "Integer" => Some(ValueType::Integer),
            "String" => Some(ValueType::String),
            _ => None,
        }
    }
}

/// The value of a claim.
#[derive(Clone, Debug, PartialEq)]
pub enum ClaimValue {
    /// A Boolean.
    Bool(bool),
    /// An integer.
    Integer(i64),
    /// A string.
    String(Arc<str>),
    /// A structured value (object or array), e.g. `x-ms-runtime` or TPM `events`.
    ///
    /// It is emitted into tokens as JSON and seen by policies as JSON text.
    Json(Arc<serde_json::Value>),
}

impl ClaimValue {
    /// The policy value type of this value.
    pub fn value_type(&self) -> ValueType {
        match self {
            ClaimValue::Bool(_) => ValueType::Boolean,
            ClaimValue::Integer(_) => ValueType::Integer,
            ClaimValue::String(_) | ClaimValue::Json(_) => ValueType::String,
        }
    }

    /// A string value from anything string-like.
    pub fn string(s: impl Into<Arc<str>>) -> Self {
        ClaimValue::String(s.into())
    }

    /// Lower-case hex of `bytes`, the encoding MAA uses for measurements and digests.
    pub fn hex(bytes: &[u8]) -> Self {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(bytes.len() * 2);
        for b in bytes {
            s.push(DIGITS[usize::from(b >> 4)] as char);
            s.push(DIGITS[usize::from(b & 0x0f)] as char);
        }
        ClaimValue::String(s.into())
    }

    /// Converts a JSON value: scalars become typed values, objects and arrays stay structured.
    ///
    /// Returns `None` for `null` and for numbers that are not 64-bit integers.
    pub fn from_json(v: serde_json::Value) -> Option<Self> {
        match v {
            serde_json::Value::Null => None,
            serde_json::Value::Bool(b) => Some(ClaimValue::Bool(b)),
            serde_json::Value::Number(n) => n.as_i64().map(ClaimValue::Integer),
            serde_json::Value::String(s) => Some(ClaimValue::String(s.into())),
            v @ (serde_json::Value::Array(_) | serde_json::Value::Object(_)) => Some(ClaimValue::Json(Arc::new(v))),
        }
    }

    /// The value as it appears in a token.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            ClaimValue::Bool(b) => serde_json::Value::Bool(*b),
            ClaimValue::Integer(i) => serde_json::Value::from(*i),
            ClaimValue::String(s) => serde_json::Value::String(s.to_string()),
            ClaimValue::Json(v) => (**v).clone(),
        }
    }

    /// The Boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            ClaimValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            ClaimValue::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The string, if this is one (structured values are not strings here).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            ClaimValue::String(s) => Some(s),
            _ => None,
        }
    }
}

impl serde::Serialize for ClaimValue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ClaimValue::Bool(b) => serializer.serialize_bool(*b),
            ClaimValue::Integer(i) => serializer.serialize_i64(*i),
            ClaimValue::String(s) => serializer.serialize_str(s),
            ClaimValue::Json(v) => v.serialize(serializer),
        }
    }
}

impl From<bool> for ClaimValue {
    fn from(b: bool) -> Self {
        ClaimValue::Bool(b)
    }
}

impl From<i64> for ClaimValue {
    fn from(i: i64) -> Self {
        ClaimValue::Integer(i)
    }
}

impl From<u32> for ClaimValue {
    fn from(i: u32) -> Self {
        ClaimValue::Integer(i64::from(i))
    }
}

impl From<u16> for ClaimValue {
    fn from(i: u16) -> Self {
        ClaimValue::Integer(i64::from(i))
    }
}

impl From<u8> for ClaimValue {
    fn from(i: u8) -> Self {
        ClaimValue::Integer(i64::from(i))
    }
}

impl From<&str> for ClaimValue {
    fn from(s: &str) -> Self {
        ClaimValue::String(s.into())
    }
}

impl From<String> for ClaimValue {
    fn from(s: String) -> Self {
        ClaimValue::String(s.into())
    }
}

/// One claim: a name, a value and who issued it.
#[derive(Clone, Debug, PartialEq)]
pub struct Claim {
    /// The claim name (MAA: `type`).
    pub name: ClaimName,
    /// The claim value.
    pub value: ClaimValue,
    /// Who produced the claim.
    pub issuer: ClaimIssuer,
}

impl Claim {
    /// A claim derived from verified evidence.
    pub fn service(name: impl Into<ClaimName>, value: impl Into<ClaimValue>) -> Self {
        Claim {
            name: name.into(),
            value: value.into(),
            issuer: ClaimIssuer::AttestationService,
        }
    }
}

/// An ordered multiset of claims. Several claims may share a name (MAA allows it: policies bind an
/// identifier to every claim that matches a condition).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClaimSet {
    claims: Vec<Claim>,
}

impl ClaimSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty set with room for `n` claims.
    pub fn with_capacity(n: usize) -> Self {
        ClaimSet {
            claims: Vec::with_capacity(n),
        }
    }

    /// Appends a claim.
    pub fn push(&mut self, claim: Claim) {
        self.claims.push(claim);
    }

    /// Appends a claim issued by the attestation service.
    pub fn add(&mut self, name: impl Into<ClaimName>, value: impl Into<ClaimValue>) {
        self.claims.push(Claim::service(name, value));
    }

    /// The first claim with this name.
    pub fn get(&self, name: &str) -> Option<&Claim> {
        self.claims.iter().find(|c| c.name == name)
    }

    /// The value of the first claim with this name.
    pub fn value(&self, name: &str) -> Option<&ClaimValue> {
        self.get(name).map(|c| &c.value)
    }

    /// Every claim with this name, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Claim> + 'a {
        self.claims.iter().filter(move |c| c.name == name)
    }

    /// All claims, in order, as a slice.
    pub fn as_slice(&self) -> &[Claim] {
        &self.claims
    }

    /// All claims, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Claim> {
        self.claims.iter()
    }

    /// The number of claims.
    pub fn len(&self) -> usize {
        self.claims.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.claims.is_empty()
    }

    /// A JSON object of name → value; for repeated names the last value wins.
    pub fn to_json_object(&self) -> serde_json::Map<String, serde_json::Value> {
        self.claims
            .iter()
            .map(|c| (c.name.to_string(), c.value.to_json()))
            .collect()
    }
}

impl<'a> IntoIterator for &'a ClaimSet {
    type Item = &'a Claim;
    type IntoIter = std::slice::Iter<'a, Claim>;
    fn into_iter(self) -> Self::IntoIter {
        self.claims.iter()
    }
}

impl FromIterator<Claim> for ClaimSet {
    fn from_iter<I: IntoIterator<Item = Claim>>(iter: I) -> Self {
        ClaimSet {
            claims: iter.into_iter().collect(),
        }
    }
}

impl Extend<Claim> for ClaimSet {
    fn extend<I: IntoIterator<Item = Claim>>(&mut self, iter: I) {
        self.claims.extend(iter);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lower_case() {
        assert_eq!(ClaimValue::hex(&[0xab, 0x01, 0xff]), ClaimValue::from("ab01ff"));
    }

    #[test]
    fn json_conversion_keeps_types() {
        assert_eq!(
            ClaimValue::from_json(serde_json::json!(3)),
            Some(ClaimValue::Integer(3))
        );
        assert_eq!(ClaimValue::from_json(serde_json::json!(1.5)), None);
        assert_eq!(ClaimValue::from_json(serde_json::Value::Null), None);
        let obj = ClaimValue::from_json(serde_json::json!({"a": [1, true]}));
        assert_eq!(obj.as_ref().map(ClaimValue::value_type), Some(ValueType::String));
        assert_eq!(obj.map(|v| v.to_json()), Some(serde_json::json!({"a": [1, true]})));
    }

    #[test]
    fn repeated_names_are_kept_in_order() {
        let mut set = ClaimSet::new();
        set.add("a", 1i64);
        set.add("b", true);
        set.add("a", 2i64);
        let values: Vec<_> = set.all("a").map(|c| c.value.clone()).collect();
        assert_eq!(values, vec![ClaimValue::Integer(1), ClaimValue::Integer(2)]);
        assert_eq!(set.to_json_object()["a"], serde_json::json!(2));
        assert_eq!(set.get("b").map(|c| c.issuer), Some(ClaimIssuer::AttestationService));
    }
}
