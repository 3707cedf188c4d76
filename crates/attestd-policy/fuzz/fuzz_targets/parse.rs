//! Any text: parsing never panics; what parses also prints, re-parses to the same tree, and
//! evaluates against a small claim set without panicking.
#![no_main]

use attestd_claims::ClaimSet;
use attestd_policy::{Policy, syntax};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(compiled) = Policy::compile(text) else { return };
    let printed = compiled.policy.ast().to_string();
    let reparsed = syntax::parse(&printed).expect("the printer's output parses");
    assert_eq!(&reparsed.ast, compiled.policy.ast(), "print/parse round trip");
    let mut claims = ClaimSet::new();
    claims.add("x-ms-sgx-svn", 1i64);
    claims.add("x-ms-attestation-type", "sgx");
    claims.add("events", attestd_claims::ClaimValue::Json(std::sync::Arc::new(serde_json_value())));
    let _ = compiled.policy.evaluate(&claims);
    let _ = compiled.policy.configuration();
});

fn serde_json_value() -> serde_json::Value {
    serde_json::json!({"Events": [{"PcrIndex": 7, "EventTypeString": "EV_SEPARATOR"}]})
}
