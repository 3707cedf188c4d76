//! Token issuance against the raw signature it is built on, in the same run.
//!
//! `raw_sign`: aws-lc-rs signing a message as long as a typical token's signing input (what a
//! perfect issuer would cost). `issue_token`: `TokenSigner::sign` of a typical SGX attestation
//! token's claims (MAA's real token, reference C.4): JSON serialization, base64url and the signature.
//! `scripts/bench-report` turns the two into the ratio reported in docs/performance.md.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;

use attestd_token::{Algorithm, SigningKey, TokenSigner};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};

fn typical_claims() -> BTreeMap<String, Value> {
    let collateral = json!({
        "qeidcertshash": "a64d649198507d8b57e33f63ab266838f43f327bd4aacc78510b6976ed046e10",
        "qeidcrlhash": "3dbcd25597ba0548bf32240b3079d4310151756f17e5537d3015b16e399acad5",
        "qeidhash": "7701f64700b7f505d7b4b7a93e45d5cde8cfc865b60f1dd49ecbee9790c3372e",
        "quotehash": "af0e05631c145d7dc1a33b214d43c6aa34a7859622a0ac7d880ab7b24e2f18d2",
        "tcbinfocertshash": "a64d649198507d8b57e33f63ab266838f43f327bd4aacc78510b6976ed046e10",
        "tcbinfocrlhash": "3dbcd25597ba0548bf32240b3079d4310151756f17e5537d3015b16e399acad5",
        "tcbinfohash": "82d109fb308f24a90e43936ea9e12b55b05250221fda2294f74ab5817e71bea4"
    });
    let ehd = "CiAgICAgICAgewogICAgICAgICAgICAiandrIiA6IHsKICAgICAgICAgICAgICAgICJrdHkiOiJFQyIsCiAgICAgICAgICAgICAgICAidXNlIjoic2lnIiwKICAgICAgICAgICAgICAgICJjcnYiOiJQLTI1NiIsCiAgICAgICAgICAgICAgICAieCI6IjE4d0hMZUlnVzl3Vk42VkQxVHhncHF5MkxzellrTWY2SjhualZBaWJ2aE0iLAogICAgICAgICAgICAgICAgInkiOiJjVjRkUzRVYUxNZ1BfNGZZNGo4aXI3Y2wxVFhsRmRBZ2N4NTVvN1RrY1NBIgogICAgICAgICAgICB9CiAgICAgICAgfQogICAgICAgIA";
    let mrenclave = "b779202618becb636768e5d902f28d524222735fafb539ea9ba07c3fc171a1c2";
    let mrsigner = "2c1a44952ae8207135c6c29b75b8c029372ee94b677e15c20bd42340f10d41aa";
    let policy = json!({"is-debuggable": false, "product-id": 1, "sgx-mrenclave": mrenclave,
                        "sgx-mrsigner": mrsigner, "svn": 1, "tee": "sgx"});
    let v = json!({
        "aas-ehd": ehd, "exp": 1665177833, "iat": 1665149033, "is-debuggable": false,
        "iss": "https://sharedwus.wus.attest.azure.net",
        "jti": "78ae68758599b753670bee53041822dee8552a83306e6296a53465a98dd1711b",
        "maa-attestationcollateral": collateral, "maa-ehd": ehd, "nbf": 1665149033, "product-id": 1,
        "sgx-mrenclave": mrenclave, "sgx-mrsigner": mrsigner, "svn": 1, "tee": "sgx",
        "x-ms-attestation-type": "sgx", "x-ms-policy": policy,
        "x-ms-policy-hash": "bROrN897ZfWmWY2V0FLUlu3uwk5xatGnKYHn3zBbSlw",
        "x-ms-sgx-collateral": collateral, "x-ms-sgx-ehd": ehd, "x-ms-sgx-is-debuggable": false,
        "x-ms-sgx-mrenclave": mrenclave, "x-ms-sgx-mrsigner": mrsigner, "x-ms-sgx-product-id": 1,
        "x-ms-sgx-report-data": "ed11a9eb97dfc17053a32a6992e71d04f7ec996e45519ab710936afb48f9041d0000000000000000000000000000000000000000000000000000000000000000",
        "x-ms-sgx-svn": 1, "x-ms-ver": "1.0"
    });
    serde_json::from_value(v).unwrap_or_default()
}

fn bench(c: &mut Criterion) {
    let claims = typical_claims();
    for alg in [Algorithm::RS256, Algorithm::ES256] {
        let (key, _) = SigningKey::generate(alg).unwrap_or_else(|e| panic!("{alg}: {e}"));
        let signer = TokenSigner::new(Arc::new(key), "https://attestd.example/certs").unwrap_or_else(|e| panic!("{e}"));
        let token = signer.sign(&claims).unwrap_or_else(|e| panic!("{e}"));
        let signing_input_len = token.rfind('.').unwrap_or(token.len());
        let message = vec![b'e'; signing_input_len];
        let mut group = c.benchmark_group(alg.as_str());
        group.bench_function("raw_sign", |b| b.iter(|| signer.key().sign(black_box(&message))));
        group.bench_function("issue_token", |b| b.iter(|| signer.sign(black_box(&claims))));
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
