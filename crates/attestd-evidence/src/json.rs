//! JSON objects read as borrowed members, as attestation requests and evidence documents are:
//! member names match case-insensitively (real clients disagree on case), values stay slices of
//! the input until read, and strings without escapes are never copied.

use std::borrow::Cow;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

/// Why a text is not a JSON object's members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjectError {
    /// The text is not JSON (the parser's message).
    NotJson(String),
    /// The text is JSON, but not an object.
    NotAnObject,
}

/// The member was present and not null, but not a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotAString;

/// A JSON object's members in order: names (unescaped only if they had escapes) and raw values.
#[derive(Debug)]
pub struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> Members<'a> {
    /// The members of `json`, which must be one JSON object.
    pub fn parse(json: &'a str) -> Result<Members<'a>, ObjectError> {
        let first = json.bytes().find(|b| !b.is_ascii_whitespace());
        if first != Some(b'{') {
            // Still tell JSON from not-JSON, as a full parse would.
            return Err(match serde_json::from_str::<IgnoredAny>(json) {
                Ok(_) => ObjectError::NotAnObject,
                Err(e) => ObjectError::NotJson(e.to_string()),
            });
        }
        serde_json::from_str::<Members<'a>>(json).map_err(|e| ObjectError::NotJson(e.to_string()))
    }

    /// The member `name` (exact name first, then case-insensitively), unless it is absent or null.
    pub fn get(&self, name: &str) -> Option<&'a RawValue> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .or_else(|| self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
            .map(|(_, v)| *v)
            .filter(|v| v.get() != "null")
    }

    /// The string member `name`, unless it is absent or null.
    pub fn string(&self, name: &str) -> Result<Option<Cow<'a, str>>, NotAString> {
        let Some(raw) = self.get(name) else { return Ok(None) };
        let raw = raw.get();
        let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else {
            return Err(NotAString);
        };
        // `parse` has validated the string already; without escapes its text is the value, and
        // the second scan (5.6 KB for an SEV-SNP `report`) is skipped.
        if memchr::memchr(b'\\', inner.as_bytes()).is_none() {
            return Ok(Some(Cow::Borrowed(inner)));
        }
        serde_json::from_str::<Text<'a>>(raw)
            .map(|t| Some(t.0))
            .map_err(|_| NotAString)
    }
}

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Object;
        impl<'de> Visitor<'de> for Object {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut members = Vec::new();
                while let Some(name) = map.next_key::<Text<'de>>()? {
                    members.push((name.0, map.next_value::<&'de RawValue>()?));
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(Object)
    }
}

/// A JSON string, borrowed from the input unless it has escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Str;
        impl<'de> Visitor<'de> for Str {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(Str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_borrow_match_names_loosely_and_skip_nulls() {
        let text = r#" { "Report" : "abc", "REPORT": "x", "esc": "a\u0062", "n": null, "num": 5, "o": {"k": [1]} } "#;
        let m = Members::parse(text).expect("object");
        assert_eq!(m.string("Report"), Ok(Some(Cow::Borrowed("abc"))));
        assert_eq!(m.string("report"), Ok(Some(Cow::Borrowed("abc"))));
        assert_eq!(m.string("REPORT"), Ok(Some(Cow::Borrowed("x"))));
        assert_eq!(m.string("esc"), Ok(Some(Cow::Owned("ab".to_owned()))));
        assert_eq!(m.string("n"), Ok(None));
        assert_eq!(m.string("missing"), Ok(None));
        assert_eq!(m.string("num"), Err(NotAString));
        assert_eq!(m.string("o"), Err(NotAString));
        assert_eq!(m.get("o").map(RawValue::get), Some(r#"{"k": [1]}"#));
    }

    #[test]
    fn strings_with_escapes_are_unescaped_and_others_borrowed() {
        let text = r#"{"q": "x\"y", "b": "\\", "e": "", "u": "\u00e9t\u00e9", "plain": "a/b+c=="}"#;
        let m = Members::parse(text).expect("object");
        assert_eq!(m.string("q"), Ok(Some(Cow::Owned("x\"y".to_owned()))));
        assert_eq!(m.string("b"), Ok(Some(Cow::Owned("\\".to_owned()))));
        assert_eq!(m.string("e"), Ok(Some(Cow::Borrowed(""))));
        assert_eq!(m.string("u"), Ok(Some(Cow::Owned("été".to_owned()))));
        assert_eq!(m.string("plain"), Ok(Some(Cow::Borrowed("a/b+c=="))));
        // Control characters never reach `string`: the object is refused whole.
        assert!(matches!(
            Members::parse("{\"a\": \"x\ty\"}"),
            Err(ObjectError::NotJson(_))
        ));
    }

    #[test]
    fn non_objects_are_told_from_non_json() {
        assert_eq!(Members::parse("[1]").expect_err("array"), ObjectError::NotAnObject);
        assert_eq!(Members::parse(" 5 ").expect_err("number"), ObjectError::NotAnObject);
        for bad in ["", "{", "{\"a\":1} x", "xyz", "{\"a\"}"] {
            assert!(matches!(Members::parse(bad), Err(ObjectError::NotJson(_))), "{bad:?}");
        }
    }
}
