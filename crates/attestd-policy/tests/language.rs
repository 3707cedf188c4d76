//! The policy language, table-driven: parsing, errors, every operator, action and function, and
//! the version differences.

use std::sync::Arc;

use attestd_claims::{Claim, ClaimIssuer, ClaimSet, ClaimValue};
use attestd_policy::{Policy, PolicyEvaluationError};
use serde_json::json;

fn compile(text: &str) -> Policy {
    match Policy::compile(text) {
        Ok(c) => c.policy,
        Err(e) => panic!("policy does not compile:\n{e}\n--- policy ---\n{text}"),
    }
}

fn sgx_claims() -> ClaimSet {
    let mut c = ClaimSet::new();
    c.add("x-ms-sgx-is-debuggable", false);
    c.add("$is-debuggable", false);
    c.add(
        "x-ms-sgx-mrsigner",
        "2c1a44952ae8207135c6c29b75b8c029372ee94b677e15c20bd42340f10d41aa",
    );
    c.add(
        "$sgx-mrsigner",
        "2c1a44952ae8207135c6c29b75b8c029372ee94b677e15c20bd42340f10d41aa",
    );
    c.add(
        "x-ms-sgx-mrenclave",
        "b779202618becb636768e5d902f28d524222735fafb539ea9ba07c3fc171a1c2",
    );
    c.add(
        "$sgx-mrenclave",
        "b779202618becb636768e5d902f28d524222735fafb539ea9ba07c3fc171a1c2",
    );
    c.add("x-ms-sgx-product-id", 1i64);
    c.add("$product-id", 1i64);
    c.add("x-ms-sgx-svn", 1i64);
    c.add("$svn", 1i64);
    c.add("x-ms-attestation-type", "sgx");
    c.add("$tee", "sgx");
    c
}

fn issued(policy: &str, claims: &ClaimSet) -> serde_json::Value {
    let p = compile(policy);
    match p.evaluate(claims) {
        Ok(e) => serde_json::Value::Object(e.issued.to_json_object()),
        Err(e) => panic!("evaluation failed: {e}"),
    }
}

fn denial(policy: &str, claims: &ClaimSet) -> PolicyEvaluationError {
    match compile(policy).evaluate(claims) {
        Ok(e) => panic!("expected a denial, got {:?}", e.issued),
        Err(e) => e,
    }
}

#[test]
fn maa_default_policies_evaluate_as_maa_tokens_show() {
    let out = issued(attestd_policy::defaults::SHARED_LEGACY, &sgx_claims());
    assert_eq!(
        out,
        json!({"is-debuggable": false, "sgx-mrsigner": "2c1a44952ae8207135c6c29b75b8c029372ee94b677e15c20bd42340f10d41aa",
               "sgx-mrenclave": "b779202618becb636768e5d902f28d524222735fafb539ea9ba07c3fc171a1c2",
               "product-id": 1, "svn": 1, "tee": "sgx"})
    );
    assert_eq!(
        attestd_policy::policy_hash(attestd_policy::defaults::SHARED_LEGACY),
        "egjnANIzEpS2WgpE4Nk-QEwM69XRCgTs42_G0qLlbnk"
    );
    let p = compile(attestd_policy::defaults::SGX_DEFAULT);
    let config = p.configuration().unwrap_or_default();
    assert_eq!(
        config.value("x-ms-sgx-tcbidentifier"),
        Some(&ClaimValue::from("azuredefault"))
    );
    assert_eq!(
        issued(attestd_policy::defaults::SGX_DEFAULT, &sgx_claims())["tee"],
        json!("sgx")
    );
    assert!(attestd_policy::defaults::for_type("Tpm").is_none());
    for t in ["SevSnpVm", "TdxVm", "AzureGuest"] {
        let text = attestd_policy::defaults::for_type(t).unwrap_or_default();
        assert!(compile(text).evaluate(&ClaimSet::new()).is_ok(), "{t}");
    }
}

#[test]
fn comparison_operators_by_value_type() {
    // (condition, expected permit) against sgx claims with svn 1 and product-id 1.
    let table: &[(&str, bool)] = &[
        (r#"[type=="x-ms-sgx-svn", value==1]"#, true),
        (r#"[type=="x-ms-sgx-svn", value!=1]"#, false),
        (r#"[type=="x-ms-sgx-svn", value<2]"#, true),
        (r#"[type=="x-ms-sgx-svn", value<1]"#, false),
        (r#"[type=="x-ms-sgx-svn", value<=1]"#, true),
        (r#"[type=="x-ms-sgx-svn", value>0]"#, true),
        (r#"[type=="x-ms-sgx-svn", value>1]"#, false),
        (r#"[type=="x-ms-sgx-svn", value>=1]"#, true),
        (r#"[type=="x-ms-sgx-svn", value>=-5]"#, true),
        // Typed: an integer never equals a string or orders against one.
        (r#"[type=="x-ms-sgx-svn", value=="1"]"#, false),
        (r#"[type=="x-ms-sgx-mrsigner", value>"a"]"#, false),
        (r#"[type=="x-ms-sgx-is-debuggable", value==false]"#, true),
        (r#"[type=="x-ms-sgx-is-debuggable", value!=true]"#, true),
        (r#"[type=="x-ms-sgx-is-debuggable", value=="false"]"#, false),
        (r#"[type=="x-ms-attestation-type", value=="sgx"]"#, true),
        (r#"[type=="x-ms-attestation-type", value!="sgx"]"#, false),
        (r#"[type!="nothing-like-this"]"#, true),
        (r#"[type=="x-ms-sgx-svn", valueType=="Integer"]"#, true),
        (r#"[type=="x-ms-sgx-svn", valueType=="String"]"#, false),
        (r#"[type=="x-ms-attestation-type", valueType=="String"]"#, true),
        (r#"[type=="x-ms-sgx-is-debuggable", valueType=="Boolean"]"#, true),
        (r#"[type=="x-ms-sgx-svn", issuer=="AttestationService"]"#, true),
        (r#"[type=="x-ms-sgx-svn", issuer=="CustomClaim"]"#, false),
        (r#"[value==1]"#, true),
        (r#"[]"#, true),
        (r#"[type=="absent"]"#, false),
        (
            r#"[type=="x-ms-sgx-svn"] && [type=="x-ms-sgx-product-id", value==1]"#,
            true,
        ),
        (
            r#"[type=="x-ms-sgx-svn"] && [type=="x-ms-sgx-product-id", value==2]"#,
            false,
        ),
    ];
    for (cond, expected) in table {
        let policy = format!("version=1.0; authorizationrules {{ {cond} => permit(); }};");
        let result = compile(&policy).evaluate(&sgx_claims());
        assert_eq!(result.is_ok(), *expected, "{cond}: {result:?}");
    }
}

#[test]
fn deny_wins_and_denials_say_why() {
    let policy = "version=1.0;\nauthorizationrules {\n  => permit();\n  c:[type==\"$is-debuggable\"] && [value==false] => deny();\n};";
    let e = denial(policy, &sgx_claims());
    let msg = e.to_string();
    assert!(
        msg.starts_with("Policy Engine Exception: A Deny claim was issued, authorization failed."),
        "{msg}"
    );
    assert!(msg.contains("line 4"), "{msg}");
    assert!(msg.contains("deny()"), "{msg}");
    assert_eq!(e.code(), "PolicyEvaluationError");

    let e = denial(
        "version=1.0; authorizationrules { [type==\"absent\"] => permit(); };",
        &sgx_claims(),
    );
    assert_eq!(e, PolicyEvaluationError::NoPermit);
    assert_eq!(
        e.to_string(),
        "Policy Engine Exception: No Permit claim was issued in the authorizationrules section, authorization failed."
    );
    // An empty authorizationrules section fails every attestation.
    assert_eq!(
        denial("version=1.0; authorizationrules { };", &sgx_claims()),
        PolicyEvaluationError::NoPermit
    );
    // MAA's documented signed policy relies on deny over permit.
    let mut debug = sgx_claims();
    debug.add("$is-debuggable", true);
    let signed_sample = "version=1.0;authorizationrules {c:[type==\"$is-debuggable\"] && [value==true] => deny();=> permit();};issuancerules{};";
    assert!(matches!(
        denial(signed_sample, &debug),
        PolicyEvaluationError::Denied { .. }
    ));
}

#[test]
fn actions_add_issue_issueproperty_and_order() {
    let policy = r#"version=1.1;
configurationrules { => issueproperty(type="require_valid_aik_cert", value=false); };
authorizationrules {
    [type=="x-ms-sgx-svn"] => add(type="seen", value=true);
    [type=="seen", issuer=="AttestationPolicy"] => permit();
};
issuancerules {
    [type=="seen", value==true] => issue(type="visible", value="yes");
    [type=="visible"] => issue(type="chained", value=1);
    => issueproperty(type="report_validity_in_minutes", value=60);
    => issue(type="typed", value="42", valueType="Integer");
    => issue(type="text", value=7, valueType="String");
};"#;
    let e = compile(policy).evaluate(&sgx_claims()).expect("permits");
    let out = serde_json::Value::Object(e.issued.to_json_object());
    // `add` is not issued; later rules see earlier claims.
    assert_eq!(out, json!({"visible": "yes", "chained": 1, "typed": 42, "text": "7"}));
    assert_eq!(
        e.properties.value("report_validity_in_minutes"),
        Some(&ClaimValue::Integer(60))
    );
    assert_eq!(
        e.properties.value("require_valid_aik_cert"),
        Some(&ClaimValue::Bool(false))
    );
    assert!(e.issued.iter().all(|c| c.issuer == ClaimIssuer::AttestationPolicy));
}

#[test]
fn identifiers_bind_every_matching_claim() {
    let mut claims = ClaimSet::new();
    claims.push(Claim {
        name: "OSName".into(),
        value: "Windows".into(),
        issuer: ClaimIssuer::CustomClaim,
    });
    claims.add("OSName", "Linux");
    claims.add("OSName", "Windows");
    // Reference B.9 Ex 6.
    let policy = r#"version=1.0; authorizationrules { => permit(); };
issuancerules {
F1:[type=="OSName" , issuer=="CustomClaim"] &&
[type=="OSName" , issuer=="AttestationService", value== F1.value ]
=> issueproperty(type="report_validity_in_minutes", value=1440);
F1:[type=="OSName" , issuer=="CustomClaim"] &&
C2:[type=="OSName" , issuer=="AttestationService", value== F1.value ]
=> issue(claim = C2);
c:[type=="OSName", issuer=="AttestationService"] => issue(type="all", value=c.value);
};"#;
    let e = compile(policy).evaluate(&claims).expect("permits");
    assert_eq!(
        e.properties.value("report_validity_in_minutes"),
        Some(&ClaimValue::Integer(1440))
    );
    assert_eq!(e.issued.value("OSName"), Some(&ClaimValue::from("Windows")));
    let all: Vec<_> = e.issued.all("all").map(|c| c.value.clone()).collect();
    assert_eq!(all, vec![ClaimValue::from("Linux"), ClaimValue::from("Windows")]);
}

#[test]
fn absence_operator_needs_version_1_2() {
    let policy = r#"version=1.2; authorizationrules { ![type=="Claim3"] => add(type="Claim3", value=300); [type=="Claim3", value==300] => permit(); };"#;
    assert!(compile(policy).evaluate(&sgx_claims()).is_ok());
    let mut with = sgx_claims();
    with.add("Claim3", 1i64);
    assert_eq!(denial(policy, &with), PolicyEvaluationError::NoPermit);
    let e = Policy::compile(&policy.replace("1.2", "1.1")).expect_err("rejected");
    assert!(e.to_string().contains("'!' needs version 1.2"), "{e}");
}

fn events() -> serde_json::Value {
    json!({"Events": [
        {"EventTypeString": "EV_EFI_VARIABLE_DRIVER_CONFIG", "PcrIndex": 7,
         "ProcessedData": {"VariableGuid": "8BE4DF61-93CA-11D2-AA0D-00E098032B8C", "UnicodeName": "SecureBoot", "VariableData": "AQ"}},
        {"EventTypeString": "EV_EFI_VARIABLE_DRIVER_CONFIG", "PcrIndex": 7,
         "ProcessedData": {"VariableGuid": "8BE4DF61-93CA-11D2-AA0D-00E098032B8C", "UnicodeName": "PK", "VariableData": "AAAA"}},
        {"EventTypeString": "EV_EVENT_TAG", "PcrIndex": 12, "ProcessedData": {"EVENT_TRUSTBOUNDARY": {
            "EVENT_VBS_HVCI_POLICY": {"String": "HypervisorEnforcedCodeIntegrityEnable", "Value": 1},
            "EVENT_LOADEDMODULE_AGGREGATION": [
                {"EVENT_FILEPATH": "\\Windows\\System32\\drivers\\wdboot.sys", "EVENT_IMAGEVALIDATED": true}]}}}
    ]})
}

fn tpm_claims(secure_boot: &str) -> ClaimSet {
    let mut ev = events();
    ev["Events"][0]["ProcessedData"]["VariableData"] = json!(secure_boot);
    let mut c = ClaimSet::new();
    c.add("events", ClaimValue::Json(Arc::new(ev)));
    c.add(
        "pcrs",
        ClaimValue::Json(Arc::new(json!({"PCRs": [{"Index": 0, "Digests": {"SHA256": "abc"}}]}))),
    );
    c
}

const SECURE_BOOT: &str = r#"version=1.2;
authorizationrules { => permit(); };
issuancerules {
c:[type == "events", issuer=="AttestationService"] => add(type = "efiConfigVariables", value = JmesPath(c.value, "Events[?EventTypeString == 'EV_EFI_VARIABLE_DRIVER_CONFIG' && ProcessedData.VariableGuid == '8BE4DF61-93CA-11D2-AA0D-00E098032B8C']"));
c:[type=="efiConfigVariables", issuer="AttestationPolicy"]=> issue(type = "secureBootEnabled", value = JsonToClaimValue(JmesPath(c.value, "[?ProcessedData.UnicodeName == 'SecureBoot'] | length(@) == `1` && @[0].ProcessedData.VariableData == 'AQ'")));
![type=="secureBootEnabled", issuer=="AttestationPolicy"] => issue(type="secureBootEnabled", value=false);
c:[type=="events", issuer=="AttestationService"] => add(type="hvciSet", value=JsonToClaimValue(JmesPath(c.value, "Events[?EventTypeString == 'EV_EVENT_TAG'].ProcessedData.EVENT_TRUSTBOUNDARY.EVENT_VBS_HVCI_POLICY.Value")));
c:[type=="hvciSet", issuer=="AttestationPolicy"] => issue(type="hvciEnabled", value=ContainsOnlyValue(c.value, 1));
c:[type=="events", issuer=="AttestationService"] => issue(type="elam", value=JsonToClaimValue(JmesPath(c.value, "Events[?EventTypeString == 'EV_EVENT_TAG'].ProcessedData.EVENT_TRUSTBOUNDARY.EVENT_LOADEDMODULE_AGGREGATION[] | [?EVENT_IMAGEVALIDATED == `true` && equals_ignore_case(EVENT_FILEPATH, '\\windows\\system32\\drivers\\wdboot.sys')] | length(@) == `1`")));
};"#;

#[test]
fn jmespath_over_boot_events() {
    let on = issued(SECURE_BOOT, &tpm_claims("AQ"));
    assert_eq!(on["secureBootEnabled"], json!(true));
    assert_eq!(on["hvciEnabled"], json!(true));
    assert_eq!(on["elam"], json!(true), "equals_ignore_case");
    let off = issued(SECURE_BOOT, &tpm_claims("AA"));
    assert_eq!(off["secureBootEnabled"], json!(false));
}

#[test]
fn functions_table() {
    // (expression, expected issued value; null = nothing issued)
    let table: &[(&str, serde_json::Value)] = &[
        (r#"JmesPath("{\"foo\": \"bar\"}", "foo")"#, json!("\"bar\"")),
        (r#"JmesPath("{\"values\":[0,1,2,3,4]}", "values[2]")"#, json!("2")),
        (
            r#"JsonToClaimValue(JmesPath("{\"values\":[0,1,2,3,4]}", "values[2]"))"#,
            json!(2),
        ),
        (r#"JsonToClaimValue("true")"#, json!(true)),
        (r#"JsonToClaimValue("\"text\"")"#, json!("text")),
        (r#"JsonToClaimValue("null")"#, serde_json::Value::Null),
        (
            r#"IsSubsetOf(JsonToClaimValue("[1,2]"), JsonToClaimValue("[1,2,3]"))"#,
            json!(true),
        ),
        (
            r#"IsSubsetOf(JsonToClaimValue("[1,4]"), JsonToClaimValue("[1,2,3]"))"#,
            json!(false),
        ),
        (
            r#"IsSubsetOf(JsonToClaimValue("[1,\"a\",true]"), JsonToClaimValue("[true,\"a\",1]"))"#,
            json!(true),
        ),
        (r#"AppendString("ab", "cd")"#, json!("abcd")),
        (r#"AppendString("", "")"#, json!("")),
        (r#"NegateBool(true)"#, json!(false)),
        (r#"NegateBool(JsonToClaimValue("false"))"#, json!(true)),
        (r#"ContainsOnlyValue(JsonToClaimValue("[1,1,1]"), 1)"#, json!(true)),
        (r#"ContainsOnlyValue(JsonToClaimValue("[1,2]"), 1)"#, json!(false)),
        (r#"ContainsOnlyValue(JsonToClaimValue("[]"), 1)"#, json!(false)),
        (r#"JmesPath("[1, 2]", "length(@)")"#, json!("2")),
    ];
    for (expr, expected) in table {
        let policy = format!(
            "version=1.2; authorizationrules {{ => permit(); }}; issuancerules {{ => issue(type=\"r\", value={expr}); }};"
        );
        let out = issued(&policy, &ClaimSet::new());
        assert_eq!(
            out.get("r").cloned().unwrap_or(serde_json::Value::Null),
            *expected,
            "{expr}"
        );
    }
    // Errors: each names the function and fails the evaluation.
    let failing = [
        (r#"JsonToClaimValue("1.5")"#, "not an integer"),
        (r#"JsonToClaimValue("{\"a\":1}")"#, "object"),
        (r#"JsonToClaimValue("not json")"#, "not valid JSON"),
        (r#"JmesPath("", "a")"#, "empty"),
        (r#"NegateBool("yes")"#, "must be a Boolean"),
        (r#"AppendString(1, "a")"#, "must be strings"),
    ];
    for (expr, needle) in failing {
        let policy = format!(
            "version=1.2; authorizationrules {{ => permit(); }}; issuancerules {{ => issue(type=\"r\", value={expr}); }};"
        );
        let e = compile(&policy).evaluate(&ClaimSet::new()).expect_err(expr);
        assert!(matches!(e, PolicyEvaluationError::Function { .. }), "{expr}: {e:?}");
        assert!(e.to_string().contains(needle), "{expr}: {e}");
    }
}

#[test]
fn functions_need_version_1_2_and_the_right_arity() {
    let e = Policy::compile(r#"version=1.1; authorizationrules { => permit(); }; issuancerules { => issue(type="a", value=NegateBool(true)); };"#)
        .expect_err("1.1 has no functions");
    assert!(e.to_string().contains("functions need version 1.2"), "{e}");
    let e = Policy::compile(r#"version=1.2; authorizationrules { => permit(); }; issuancerules { => issue(type="a", value=ContainsOnlyValue(100)); };"#)
        .expect_err("arity");
    assert!(e.to_string().contains("2 argument(s) to ContainsOnlyValue"), "{e}");
    let e = Policy::compile(r#"version=1.2; authorizationrules { => permit(); }; issuancerules { => issue(type="a", value=JmesPath("{}", "[?")); };"#)
        .expect_err("bad query");
    assert!(e.to_string().contains("JMESPath"), "{e}");
    let e = Policy::compile("version=1.0; configurationrules { }; authorizationrules { => permit(); };")
        .expect_err("1.0 has no configuration rules");
    assert!(e.to_string().contains("configurationrules need version 1.1"), "{e}");
}

#[test]
fn empty_values_are_no_ops_and_pcrs_are_read_only() {
    let policy = r#"version=1.2; authorizationrules { => permit(); };
issuancerules { c:[type=="events"] => issue(type="nothing", value=JmesPath(c.value, "NoSuchField")); };"#;
    let out = issued(policy, &tpm_claims("AQ"));
    assert_eq!(out, json!({}));
    // PCRs can be checked …
    let check = r#"version=1.2; authorizationrules { c:[type=="pcrs"] => add(type="p0", value=JsonToClaimValue(JmesPath(c.value, "PCRs[?Index==`0`].Digests.SHA256 | @[0] == 'abc'"))); [type=="p0", value==true] => permit(); };"#;
    assert!(compile(check).evaluate(&tpm_claims("AQ")).is_ok());
    // … but not issued, directly or through a function.
    for action in [
        "issue(claim=c)",
        r#"issue(type="x", value=c.value)"#,
        r#"issue(type="x", value=JmesPath(c.value, "PCRs"))"#,
    ] {
        let policy = format!(
            "version=1.2; authorizationrules {{ => permit(); }}; issuancerules {{ c:[type==\"pcrs\"] => {action}; }};"
        );
        let e = compile(&policy).evaluate(&tpm_claims("AQ")).expect_err(action);
        assert!(matches!(e, PolicyEvaluationError::ReadOnly { .. }), "{action}: {e:?}");
    }
    // The events claim is not read-only: MAA issues it verbatim (reference C.5.4).
    let out = issued(
        r#"version=1.2; authorizationrules { => permit(); }; issuancerules { c:[type=="events"] => issue(type="outputEvents", value=c.value); };"#,
        &tpm_claims("AQ"),
    );
    assert_eq!(out["outputEvents"]["Events"][0]["PcrIndex"], json!(7));
}

#[test]
fn property_claims_are_bounded() {
    let ok = [
        ("report_validity_in_minutes", "1"),
        ("report_validity_in_minutes", "525600"),
        ("omit_x5c", "true"),
        ("required_pcr_mask", "15"),
    ];
    let bad = [
        ("report_validity_in_minutes", "0"),
        ("report_validity_in_minutes", "525601"),
        ("report_validity_in_minutes", "\"60\""),
        ("omit_x5c", "1"),
        ("required_pcr_mask", "16777216"),
        ("require_valid_aik_cert", "\"no\""),
        ("x-ms-sgx-tcbidentifier", "10"),
    ];
    for (name, value) in ok {
        let p = format!(
            "version=1.1; configurationrules {{ => issueproperty(type=\"{name}\", value={value}); }}; authorizationrules {{ => permit(); }};"
        );
        assert!(compile(&p).configuration().is_ok(), "{name}={value}");
    }
    for (name, value) in bad {
        let p = format!(
            "version=1.1; configurationrules {{ => issueproperty(type=\"{name}\", value={value}); }}; authorizationrules {{ => permit(); }};"
        );
        let e = compile(&p).configuration().expect_err(name);
        assert!(
            matches!(e, PolicyEvaluationError::InvalidProperty { .. }),
            "{name}={value}: {e:?}"
        );
        assert!(e.to_string().contains(name), "{e}");
    }
}

#[test]
fn parse_errors_point_at_the_problem() {
    let cases: &[(&str, u32, u32, &str)] = &[
        (
            "version=1.0;\nauthorizationrules {\n  [type==\"a\"] [type==\"b\"] => permit();\n};",
            3,
            15,
            "'&&' or '=>'",
        ),
        ("version 1.0;", 1, 9, "'='"),
        ("version=2.0; authorizationrules { };", 1, 9, "version 1.0, 1.1 or 1.2"),
        ("version=1.0; issuancerules { };", 1, 14, "'authorizationrules'"),
        ("version=1.0; authorizationrules { => allow(); };", 1, 38, "an action"),
        (
            "version=1.0; authorizationrules { => permit(); }; authorizationrules { };",
            1,
            51,
            "sections once each",
        ),
        (
            "version=1.0; authorizationrules { [type==\"a\" => permit(); };",
            1,
            46,
            "']'",
        ),
        (
            "version=1.0; authorizationrules { [type==\"a\"] => permit(); ",
            1,
            60,
            "'}' closing the section",
        ),
        (
            "version=1.0; authorizationrules { => issue(claim=c); };",
            1,
            50,
            "an identifier bound",
        ),
        (
            "version=1.0; authorizationrules { [value==c.value] => permit(); };",
            1,
            43,
            "an identifier bound",
        ),
        (
            "version=1.0; authorizationrules { [colour==\"red\"] => permit(); };",
            1,
            36,
            "a claim property",
        ),
        (
            "version=1.0; authorizationrules { [type>\"a\"] => permit(); };",
            1,
            40,
            "'==' or '!='",
        ),
        (
            "version=1.0; authorizationrules { => permit(); }; issuancerules { => deny(); };",
            1,
            70,
            "only allowed in authorizationrules",
        ),
        ("version=1.0; authorizationrules { => add(value=1); };", 1, 49, "type="),
        (
            "version=1.0; authorizationrules { [value==99999999999999999999] => permit(); };",
            1,
            43,
            "an integer",
        ),
        (
            "version=1.0; authorizationrules { [type==\"unterminated] => permit(); };",
            1,
            42,
            "'\"' closing the string",
        ),
        ("version=1.0; authorizationrules { # };", 1, 35, "a token"),
    ];
    for (text, line, column, expected) in cases {
        let e = Policy::compile(text).expect_err(text);
        assert_eq!((e.pos.line, e.pos.column), (*line, *column), "{text}\n{e}");
        assert!(
            e.expected.contains(expected),
            "{text}: expected {:?} in {:?}",
            expected,
            e.expected
        );
        assert_eq!(e.code(), "PolicyParsingError");
        // The message shows the line and a caret under the column.
        let msg = e.to_string();
        let mut lines = msg.lines().skip(1);
        let src_line = lines.next().unwrap_or_default();
        let caret = lines.next().unwrap_or_default();
        assert_eq!(
            src_line.trim_start(),
            text.lines().nth(*line as usize - 1).unwrap_or_default().trim_start(),
            "{msg}"
        );
        assert_eq!(caret.find('^'), Some(4 + *column as usize - 1), "{msg}");
    }
}

#[test]
fn documented_variations_are_accepted_with_warnings() {
    let cases: &[(&str, &str)] = &[
        (
            r#"version=1.0; authorizationrules { [type="a"] => permit(); };"#,
            "'=' in a condition",
        ),
        (
            r#"version=1.0; Authorizationrules { => permit(); };"#,
            "keyword 'Authorizationrules'",
        ),
        (
            r#"version=1.0; authorizationrules { => permit() };"#,
            "missing ';' after the rule",
        ),
        (
            r#"version=1.0; authorizationrules { => permit(); }"#,
            "missing ';' after 'authorizationrules'",
        ),
        (
            "version=1.1; configurationrules { => issueproperty(type=\"x-ms-sgx-tcbidentifier\", value=\"11\u{201d});}; authorizationrules { => permit(); };",
            "typographic quote",
        ),
        (
            r#"version=1.0; authorizationrules { => Permit(); };"#,
            "action 'Permit'",
        ),
        (
            r#"version=1.0; authorizationrules { => issue(type="a", value=1); [type=="a"] => permit(); };"#,
            "read as 'add'",
        ),
    ];
    for (text, warning) in cases {
        let c = Policy::compile(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert!(
            c.warnings.iter().any(|w| w.message.contains(warning)),
            "{text}: {:?}",
            c.warnings
        );
        let mut claims = ClaimSet::new();
        claims.add("a", 1i64);
        assert!(c.policy.evaluate(&claims).is_ok(), "{text}");
    }
    // A policy in MAA's exact grammar has no warnings.
    let c = Policy::compile(attestd_policy::defaults::SGX_DEFAULT).expect("compiles");
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn positional_type_and_comments() {
    let policy = "version=1.2; // a comment\nauthorizationrules { /* block\ncomment */ => permit(); };\nissuancerules { => issue(\"PlatformAttested\", value=true); };";
    assert_eq!(issued(policy, &ClaimSet::new()), json!({"PlatformAttested": true}));
}

#[test]
fn the_text_is_kept_byte_exact() {
    let text = "\r\nversion=1.0;\r\nauthorizationrules { => permit(); };\r\nissuancerules {};";
    let p = compile(text);
    assert_eq!(p.text(), text);
    // Reference A.3: this text is the body of MAA's Get_Policy example.
    assert_eq!(
        base64_url(text.as_bytes()),
        "DQp2ZXJzaW9uPTEuMDsNCmF1dGhvcml6YXRpb25ydWxlcyB7ID0-IHBlcm1pdCgpOyB9Ow0KaXNzdWFuY2VydWxlcyB7fTs"
    );
}

fn base64_url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[test]
fn traces_show_every_rule() {
    let p = compile(SECURE_BOOT);
    let (result, trace) = p.evaluate_traced(&tpm_claims("AQ"));
    assert!(result.is_ok());
    assert_eq!(trace.len(), 1 + 6);
    assert!(trace[0].fired);
    assert_eq!(trace[1].added.len(), 1);
    assert_eq!(trace[1].rule.line, 4);
    let negated = &trace[3];
    assert!(
        !negated.fired,
        "secureBootEnabled was issued, so the absence rule must not fire"
    );
}
