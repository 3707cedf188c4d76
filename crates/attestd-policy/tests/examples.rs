//! Every example policy of MAA's documentation (reference B.8, B.9) and every policy text of the
//! recorded SDK exchanges parses; printing and re-parsing gives the same tree.

use std::path::PathBuf;

use attestd_policy::syntax::{
    self, Action, ClaimArg, ClaimSpec, CompareOp, Condition, Expr, Function, PolicyAst, PropCond, Property, Rule,
    Version,
};
use attestd_policy::{Policy, Pos, Section};
use proptest::prelude::*;

fn reference() -> PathBuf {
    attestd_testkit::vectors_dir().join("../reference/maa-api.md")
}

/// The fenced blocks of sections B.8 and B.9 that are whole policies.
fn documented_policies() -> Vec<String> {
    let text = std::fs::read_to_string(reference()).expect("reference/maa-api.md beside the vectors");
    let start = text.find("### B.8").expect("section B.8");
    let end = text[start..].find("\n## C.").map_or(text.len(), |e| start + e);
    let mut out = Vec::new();
    let mut in_block = false;
    let mut block = String::new();
    for line in text[start..end].lines() {
        if line.trim_start().starts_with("```") {
            if in_block && block.trim_start().starts_with("version") {
                // Placeholders in Ex 1 stand for an integer and strings.
                out.push(block.replace("value==<product-id>", "value==1"));
            }
            in_block = !in_block;
            block.clear();
            continue;
        }
        if in_block {
            block.push_str(line);
            block.push('\n');
        }
    }
    out
}

#[test]
fn every_documented_example_parses_and_round_trips() {
    let policies = documented_policies();
    assert!(policies.len() >= 16, "found only {} example policies", policies.len());
    for text in &policies {
        let compiled = Policy::compile(text).unwrap_or_else(|e| panic!("{e}\n--- policy ---\n{text}"));
        let printed = compiled.policy.ast().to_string();
        let reparsed = syntax::parse(&printed).unwrap_or_else(|e| panic!("{e}\n--- printed ---\n{printed}"));
        assert_eq!(&reparsed.ast, compiled.policy.ast(), "--- printed ---\n{printed}");
        assert!(
            reparsed.warnings.is_empty(),
            "canonical form has warnings: {:?}",
            reparsed.warnings
        );
    }
}

#[test]
fn sdk_draft_policies_parse_and_hash_as_maa() {
    let dir = attestd_testkit::vectors_dir().join("azure-sdk/cpp-sdk");
    for (file, hash) in [
        (
            "draft_policy_permit_debug_mrsigner.txt",
            "1wKUrF_E0X5CZUM9OMIF1PH3qn5iykWY_bWgBbiWJZ0",
        ),
        (
            "draft_policy_expect_deny.txt",
            "M-w473NzN_Jk7_2r1StgFn1DVa-8U5BwTy5aTsw-qzY",
        ),
    ] {
        let text = std::fs::read_to_string(dir.join(file)).expect(file);
        let policy = Policy::compile(&text).unwrap_or_else(|e| panic!("{file}: {e}")).policy;
        assert_eq!(policy.hash(), hash, "{file}");
    }
}

// ---- property test: print ∘ parse is the identity on trees ----

fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9$_ .:-]{0,12}",
        Just("with \"quotes\" and \\ backslash".to_owned()),
        Just("line\nbreak\ttab".to_owned()),
        Just("typographic \u{201c}quotes\u{201d}".to_owned()),
        Just("[?a == 'b'] | length(@)".to_owned()),
    ]
}

fn literal() -> impl Strategy<Value = Expr> {
    prop_oneof![
        string().prop_map(Expr::Str),
        any::<i64>().prop_map(Expr::Int),
        any::<bool>().prop_map(Expr::Bool)
    ]
}

fn property() -> impl Strategy<Value = Property> {
    prop_oneof![
        Just(Property::Type),
        Just(Property::Value),
        Just(Property::ValueType),
        Just(Property::Issuer)
    ]
}

/// An expression that may refer to `bound` identifiers and call functions when `functions`.
fn expr(bound: Vec<String>, functions: bool) -> BoxedStrategy<Expr> {
    let leaf: BoxedStrategy<Expr> = if bound.is_empty() {
        literal().boxed()
    } else {
        let b = bound.clone();
        prop_oneof![
            literal(),
            (prop::sample::select(b), property()).prop_map(|(i, p)| Expr::Ref(i, p))
        ]
        .boxed()
    };
    if !functions {
        return leaf;
    }
    leaf.prop_recursive(3, 8, 2, |inner| {
        (
            prop::sample::select(Function::ALL.to_vec()),
            prop::collection::vec(inner, 2),
        )
            .prop_map(|(f, mut args)| {
                args.truncate(f.arity());
                if f == Function::JmesPath {
                    // A literal query must be valid JMESPath.
                    args[1] = Expr::Str("a.b[0]".to_owned());
                }
                Expr::Call(f, args)
            })
    })
    .boxed()
}

fn rule(version: Version, section: Section) -> impl Strategy<Value = Rule> {
    let functions = version >= Version::V1_2;
    (0usize..3, any::<[bool; 3]>(), any::<[bool; 3]>()).prop_flat_map(move |(n, named, negated)| {
        // Conditions, each able to refer to identifiers bound before it.
        let mut conds: Vec<BoxedStrategy<Condition>> = Vec::new();
        let mut bound: Vec<String> = Vec::new();
        for i in 0..n {
            let negate = negated[i] && functions;
            let ident = (named[i] && !negate).then(|| format!("c{i}"));
            let b = bound.clone();
            conds.push(
                prop::collection::vec(
                    (
                        property(),
                        prop::sample::select(vec![CompareOp::Eq, CompareOp::Ne, CompareOp::Le]),
                        expr(b, functions),
                    ),
                    0..3,
                )
                .prop_map(move |tests| Condition {
                    negated: negate,
                    ident: ident.clone(),
                    tests: tests
                        .into_iter()
                        .map(|(property, op, rhs)| PropCond {
                            property,
                            op: if property == Property::Value { op } else { CompareOp::Eq },
                            rhs,
                        })
                        .collect(),
                })
                .boxed(),
            );
            if let Some(id) = (named[i] && !negate).then(|| format!("c{i}")) {
                bound.push(id);
            }
        }
        let b = bound.clone();
        let action = {
            let spec = if b.is_empty() {
                (expr(vec![], functions), expr(vec![], functions))
                    .prop_map(|(t, v)| {
                        ClaimSpec::Build(vec![
                            ClaimArg {
                                property: Property::Type,
                                value: t,
                            },
                            ClaimArg {
                                property: Property::Value,
                                value: v,
                            },
                        ])
                    })
                    .boxed()
            } else {
                prop_oneof![
                    prop::sample::select(b.clone()).prop_map(ClaimSpec::Copy),
                    (expr(b.clone(), functions), expr(b.clone(), functions)).prop_map(|(t, v)| ClaimSpec::Build(vec![
                        ClaimArg {
                            property: Property::Type,
                            value: t
                        },
                        ClaimArg {
                            property: Property::Value,
                            value: v
                        }
                    ]))
                ]
                .boxed()
            };
            match section {
                Section::Authorization => {
                    prop_oneof![Just(Action::Permit), Just(Action::Deny), spec.prop_map(Action::Add)].boxed()
                }
                // `issue` in configurationrules is read as `issueproperty`.
                Section::Configuration => {
                    prop_oneof![spec.clone().prop_map(Action::Add), spec.prop_map(Action::IssueProperty)].boxed()
                }
                Section::Issuance => prop_oneof![
                    spec.clone().prop_map(Action::Add),
                    spec.clone().prop_map(Action::Issue),
                    spec.prop_map(Action::IssueProperty)
                ]
                .boxed(),
            }
        };
        (conds, action).prop_map(|(conditions, action)| Rule {
            pos: Pos::default(),
            conditions,
            action,
        })
    })
}

fn policy() -> impl Strategy<Value = PolicyAst> {
    prop_oneof![Just(Version::V1_0), Just(Version::V1_1), Just(Version::V1_2)].prop_flat_map(|version| {
        let config = if version >= Version::V1_1 {
            prop::option::of(prop::collection::vec(rule(version, Section::Configuration), 0..3)).boxed()
        } else {
            Just(None).boxed()
        };
        (
            config,
            prop::collection::vec(rule(version, Section::Authorization), 0..4),
            prop::option::of(prop::collection::vec(rule(version, Section::Issuance), 0..4)),
        )
            .prop_map(move |(configuration, authorization, issuance)| PolicyAst {
                version,
                configuration,
                authorization,
                issuance,
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn printing_then_parsing_gives_the_same_tree(ast in policy()) {
        let printed = ast.to_string();
        let reparsed = syntax::parse(&printed).map_err(|e| TestCaseError::fail(format!("{e}\n{printed}")))?;
        prop_assert_eq!(&reparsed.ast, &ast, "{}", printed);
        prop_assert!(reparsed.warnings.is_empty(), "{:?}", reparsed.warnings);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = Policy::compile(&text);
    }
}
