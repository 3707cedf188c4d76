//! Load generator: SEV-SNP attestations over HTTPS against a running `attestd serve`, beside the
//! crypto-only limit measured in the same run on the same cores (one P-384 report verification +
//! one token signature per attestation), for RS256 and ES256 tokens.
//!
//! `cargo bench -p attestd --bench http_snp` (ATTESTD_LOAD_SECONDS, default 10;
//! ATTESTD_LOAD_CONCURRENCY, default 32). The generator shares the machine with the server, so the
//! end-to-end figure includes the client's TLS and JSON work: it is a lower bound.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use attestd_snp::{AttestationReport, Vek};
use attestd_testkit::TestServer;
use attestd_token::{Algorithm, SigningKey, b64};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_attestd");

fn read(path: &str) -> Vec<u8> {
    std::fs::read(attestd_testkit::vectors_dir().join("sev-snp").join(path)).expect("vector")
}

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Attestations per second that the bare cryptography allows on every core.
fn crypto_limit(alg: Algorithm, report: &[u8], vcek: &[u8], seconds: u64) -> f64 {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let report = Arc::new(AttestationReport::parse(report).expect("report"));
    let vek = Arc::new(Vek::parse(vcek).expect("vcek"));
    let key = Arc::new(SigningKey::generate(alg).expect("key").0);
    // A signing input as long as an SNP token's (~2 KB of claims).
    let input = Arc::new(vec![b'e'; 2800]);
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (report, vek, key, input, done) =
                (report.clone(), vek.clone(), key.clone(), input.clone(), done.clone());
            std::thread::spawn(move || {
                while start.elapsed() < Duration::from_secs(seconds) {
                    vek.verify_report_signature(&report).expect("verifies");
                    key.sign(&input).expect("signs");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// Attestations per second over HTTPS with `concurrency` requests in flight.
async fn load(server: &TestServer, body: serde_json::Value, concurrency: u64, seconds: u64) -> (f64, u64) {
    let client = server.client();
    let url = format!("{}/attest/SevSnpVm?api-version=2022-08-01", server.url());
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    // Warm up: connections, the VCEK chain cache, the policy.
    for _ in 0..concurrency.min(8) {
        let r = client.post(&url).json(&body).send().await.expect("request");
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    }
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, url, body, ok, failed, stop) = (
                client.clone(),
                url.clone(),
                body.clone(),
                ok.clone(),
                failed.clone(),
                stop.clone(),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let good = match client.post(&url).json(&body).send().await {
                        Ok(r) => r.status() == 200 && r.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    if good {
                        ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    (
        ok.load(Ordering::Relaxed) as f64 / elapsed,
        failed.load(Ordering::Relaxed),
    )
}

/// CPU seconds (user + system) the process `pid` has used, from /proc (Linux).
fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid?)).ok()?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux this runs on.
    Some(ticks / 100.0)
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: then only check it runs.
    let seconds = if std::env::args().any(|a| a == "--bench") {
        setting("ATTESTD_LOAD_SECONDS", 10)
    } else {
        1
    };
    let concurrency = setting("ATTESTD_LOAD_CONCURRENCY", 32);
    let report = read("trustee/test-report.bin");
    let vcek = read("trustee/test-vcek.der");
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        b64::encode_std(&vcek)
    );
    let doc = json!({"SnpReport": b64::encode_url(&report), "VcekCertChain": b64::encode_url(pem.as_bytes())});
    let body = json!({"report": b64::encode_url(doc.to_string().as_bytes()), "nonce": "load"});
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let threads = std::thread::available_parallelism().map_or(1, usize::from) as f64;
    println!(
        "| token | crypto-only limit (att/s, {threads} cores) | HTTPS end to end (att/s) | ratio | server CPU per attestation | crypto per attestation | server efficiency | failed |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for alg in [Algorithm::RS256, Algorithm::ES256] {
        let limit = crypto_limit(alg, &report, &vcek, seconds.min(5));
        let server = TestServer::start(Path::new(BIN), &["--offline", "--token-alg", alg.as_str()]);
        let cpu_before = cpu_seconds(server.pid());
        let (rate, failed) = rt.block_on(load(&server, body.clone(), concurrency, seconds));
        let cpu_after = cpu_seconds(server.pid());
        // The server's own CPU time per attestation (the generator's TLS and JSON work excluded),
        // against the crypto's CPU time per attestation.
        let crypto_us = 1e6 * threads / limit;
        let (server_us, efficiency) = match (cpu_before, cpu_after) {
            (Some(a), Some(b)) if rate > 0.0 => {
                let us = 1e6 * (b - a) / (rate * seconds as f64);
                (format!("{us:.0} µs"), format!("{:.1} %", 100.0 * crypto_us / us))
            }
            _ => ("n/a".to_owned(), "n/a".to_owned()),
        };
        println!(
            "| {alg} | {limit:.0} | {rate:.0} | {:.1} % | {server_us} | {crypto_us:.0} µs | {efficiency} | {failed} |",
            100.0 * rate / limit
        );
    }
}
