//! What the HTTPS load generators (`http_snp`, `http_sgx`, `http_tdx`) share: the load loop, the
//! crypto-only limit, CPU accounting from `/proc`, core pinning and the result tables.
//!
//! Two layouts, each measured in the same run:
//! - `split` (the headline): the server is started under `taskset -c 0` (so its runtime sizes
//!   itself to one core and every thread it has, audit writer and SQLite included, shares that
//!   core), the generator runs on core 1, and the crypto-only limit is measured by one thread on
//!   core 0: end to end is then "server on its core" against "crypto on one core".
//! - `shared`: nothing pinned; server, generator and the crypto threads (one per core) share every
//!   core, so the end-to-end rate also pays for the generator's TLS and HTTP work.
//!
//! Settings: `ATTESTD_LOAD_SECONDS` (default 10), `ATTESTD_LOAD_CONCURRENCY` (32),
//! `ATTESTD_LOAD_LAYOUT` (`split`, `shared` or `both`, the default), `ATTESTD_LOAD_ALGS`
//! (token algorithms, default `RS256,ES256`), `ATTESTD_LOAD_BIN` (another `attestd` binary to
//! serve, e.g. a copy of an earlier build for a before/after comparison).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use attestd_testkit::TestServer;
use attestd_token::{Algorithm, SigningKey};

/// The release `attestd` binary under test (unless `ATTESTD_LOAD_BIN` names another).
fn bin() -> String {
    std::env::var("ATTESTD_LOAD_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_attestd").to_owned())
}

/// The core the server (and the one-core crypto limit) runs on in the split layout.
const SERVER_CPU: u32 = 0;
/// The core the generator runs on in the split layout.
const GENERATOR_CPU: u32 = 1;

/// An unsigned setting from the environment.
pub fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// How server, generator and crypto threads are placed on the cores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Server on core 0, generator on core 1, crypto limit on one core.
    Split,
    /// Everything on every core.
    Shared,
}

impl Layout {
    fn from_env() -> Vec<Layout> {
        let cores = cores();
        match std::env::var("ATTESTD_LOAD_LAYOUT").as_deref() {
            Ok("shared") => vec![Layout::Shared],
            Ok("split") if cores >= 2 => vec![Layout::Split],
            _ if cores < 2 => {
                eprintln!("fewer than 2 cores: only the shared layout is measured");
                vec![Layout::Shared]
            }
            _ => vec![Layout::Split, Layout::Shared],
        }
    }
}

/// Cores available to this process.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Pins every thread of this process to `cpus` (a taskset list such as `1` or `0-1`); threads
/// created later inherit it. `taskset` keeps our crates free of unsafe affinity calls.
fn pin_self(cpus: &str) {
    let status = Command::new("taskset")
        .args(["-a", "-p", "-c", cpus, &std::process::id().to_string()])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("taskset (util-linux) is needed to pin the benchmark");
    assert!(status.success(), "taskset -a -p -c {cpus} failed");
}

/// The whole machine's CPU list, for undoing a pin.
fn all_cpus() -> String {
    format!("0-{}", cores_online() - 1)
}

/// Cores online (affinity-independent, so that a pinned process can unpin itself).
fn cores_online() -> usize {
    std::fs::read_to_string("/proc/cpuinfo")
        .map(|s| s.lines().filter(|l| l.starts_with("processor")).count())
        .unwrap_or(1)
        .max(1)
}

/// The program `TestServer` starts: `attestd` itself, or in the split layout a script that execs
/// it under `taskset` (same pid, so its CPU time stays readable from /proc).
fn server_program(layout: Layout, dir: &Path) -> PathBuf {
    match layout {
        Layout::Shared => PathBuf::from(bin()),
        Layout::Split => {
            use std::os::unix::fs::PermissionsExt;
            let script = dir.join("attestd-pinned");
            std::fs::write(
                &script,
                format!("#!/bin/sh\nexec taskset -c {SERVER_CPU} '{}' \"$@\"\n", bin()),
            )
            .expect("write wrapper");
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod wrapper");
            script
        }
    }
}

/// CPU seconds (user + system) a process has used, from `/proc/<pid>/stat` (Linux).
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux this runs on.
    Some(ticks / 100.0)
}

/// Attestations per second that `threads` threads doing only the cryptography of one attestation
/// (`verify`, then one token signature over `signing_input_len` bytes) reach.
fn crypto_limit(
    alg: Algorithm,
    verify: &Arc<dyn Fn() + Send + Sync>,
    signing_input_len: usize,
    threads: usize,
    seconds: u64,
) -> f64 {
    let key = Arc::new(SigningKey::generate(alg).expect("key").0);
    let input = Arc::new(vec![b'e'; signing_input_len]);
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (verify, key, input, done) = (verify.clone(), key.clone(), input.clone(), done.clone());
            std::thread::spawn(move || {
                while start.elapsed() < Duration::from_secs(seconds) {
                    verify();
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

/// Posts `body` to `url` once and returns the token (checking the answer is 200).
async fn attest_once(client: &reqwest::Client, url: &str, body: &[u8]) -> String {
    let r = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .expect("request");
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    assert_eq!(status, 200, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON answer");
    v["token"].as_str().expect("token").to_owned()
}

/// Attestations per second with `concurrency` requests in flight for `seconds`, and failures.
async fn load(client: &reqwest::Client, url: &str, body: bytes::Bytes, concurrency: u64, seconds: u64) -> (f64, u64) {
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    // Warm up: one connection per task, caches, the policy.
    let warm: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, url, body) = (client.clone(), url.to_owned(), body.clone());
            tokio::spawn(async move { attest_once(&client, &url, &body).await })
        })
        .collect();
    for w in warm {
        w.await.expect("warm-up");
    }
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, url, body, ok, failed, stop) = (
                client.clone(),
                url.to_owned(),
                body.clone(),
                ok.clone(),
                failed.clone(),
                stop.clone(),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    // The body is serialized once: `Bytes` clones share it.
                    let sent = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await;
                    let good = match sent {
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

/// One attestation endpoint under load.
pub struct Target {
    /// What the tables are titled with, e.g. `SGX (SgxEnclave)`.
    pub title: &'static str,
    /// Path and query, e.g. `/attest/SgxEnclave?api-version=2022-08-01`.
    pub path: &'static str,
    /// The request body (MAA's JSON), serialized once.
    pub body: Vec<u8>,
    /// Extra `attestd serve` arguments (besides `--token-alg`).
    pub server_args: Vec<String>,
    /// Run once per started server before the load (e.g. `attestd collateral import`).
    pub setup: Box<dyn Fn(&TestServer)>,
    /// The verification cryptography of one attestation (signatures only, no parsing).
    pub verify: Arc<dyn Fn() + Send + Sync>,
    /// What `verify` is, for the table heading, e.g. `2 × P-256 verify`.
    pub crypto: &'static str,
}

/// One measured row.
struct Row {
    alg: Algorithm,
    limit: f64,
    rate: f64,
    failed: u64,
    server_us: Option<f64>,
    server_busy: Option<f64>,
    generator_busy: Option<f64>,
    crypto_us: f64,
}

/// Measures `target` with RS256 and ES256 tokens in every configured layout and prints a
/// Markdown table per layout.
pub fn run(target: &Target) {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: then only check it runs.
    let seconds = if std::env::args().any(|a| a == "--bench") {
        setting("ATTESTD_LOAD_SECONDS", 10)
    } else {
        1
    };
    let concurrency = setting("ATTESTD_LOAD_CONCURRENCY", 32);
    let all = all_cpus();
    for layout in Layout::from_env() {
        let rows: Vec<Row> = algorithms()
            .into_iter()
            .map(|alg| measure(target, layout, alg, seconds, concurrency, &all))
            .collect();
        print_table(target, layout, &rows, concurrency, seconds);
    }
    pin_self(&all);
}

/// The token algorithms to measure, from `ATTESTD_LOAD_ALGS`.
fn algorithms() -> Vec<Algorithm> {
    let list = std::env::var("ATTESTD_LOAD_ALGS").unwrap_or_else(|_| "RS256,ES256".to_owned());
    list.split(',')
        .map(|a| {
            a.trim()
                .parse()
                .unwrap_or_else(|_| panic!("ATTESTD_LOAD_ALGS: unknown algorithm '{a}'"))
        })
        .collect()
}

fn measure(target: &Target, layout: Layout, alg: Algorithm, seconds: u64, concurrency: u64, all: &str) -> Row {
    let dir = tempfile::tempdir().expect("tmp");
    let program = server_program(layout, dir.path());
    let mut args: Vec<&str> = target.server_args.iter().map(String::as_str).collect();
    args.extend(["--token-alg", alg.as_str()]);
    let server = TestServer::start(&program, &args);
    (target.setup)(&server);
    let url = format!("{}{}", server.url(), target.path);
    let pid = server.pid().expect("pid").to_string();

    // The crypto limit: one thread on the server's core, or one per core.
    let crypto_threads = match layout {
        Layout::Split => {
            pin_self(&SERVER_CPU.to_string());
            1
        }
        Layout::Shared => {
            pin_self(all);
            cores()
        }
    };
    // Sign as many bytes as the server's tokens have (header.payload), from one real token.
    let token = runtime().block_on(attest_once(&server.client(), &url, &target.body));
    let signing_input_len = token.rfind('.').unwrap_or(token.len());
    let limit = crypto_limit(alg, &target.verify, signing_input_len, crypto_threads, seconds.min(5));

    if layout == Layout::Split {
        pin_self(&GENERATOR_CPU.to_string());
    }
    // Built after pinning, so that its worker count follows the cores the generator may use.
    let rt = runtime();
    let client = server.client();
    let body = bytes::Bytes::from(target.body.clone());
    let (server0, self0) = (cpu_seconds(&pid), cpu_seconds("self"));
    let wall = Instant::now();
    let (rate, failed) = rt.block_on(load(&client, &url, body, concurrency, seconds));
    let (server1, self1) = (cpu_seconds(&pid), cpu_seconds("self"));
    let wall = wall.elapsed().as_secs_f64();
    drop(rt);
    pin_self(all);
    // The warm-up is inside the CPU window but outside the rate's: count its requests too.
    let attestations = rate * seconds as f64 + concurrency as f64;
    let server_cpu = server0.zip(server1).map(|(a, b)| b - a);
    let threads = crypto_threads as f64;
    Row {
        alg,
        limit,
        rate,
        failed,
        server_us: server_cpu.filter(|_| rate > 0.0).map(|c| 1e6 * c / attestations),
        server_busy: server_cpu.map(|c| c / wall),
        generator_busy: self0.zip(self1).map(|(a, b)| (b - a) / wall),
        crypto_us: 1e6 * threads / limit,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn print_table(target: &Target, layout: Layout, rows: &[Row], concurrency: u64, seconds: u64) {
    let (heading, cores_label) = match layout {
        Layout::Split => (
            "server on core 0, generator on core 1, crypto limit on 1 core",
            "1 core",
        ),
        Layout::Shared => ("server, generator and crypto threads on all cores", "all cores"),
    };
    let fmt = |v: Option<f64>, scale: f64, unit: &str| {
        v.map_or_else(|| "n/a".to_owned(), |v| format!("{:.0}{unit}", v * scale))
    };
    println!();
    println!(
        "{}: {heading} ({concurrency} in flight, {seconds} s; crypto = {} + token signature)",
        target.title, target.crypto
    );
    println!();
    println!(
        "| Token | Crypto-only limit ({cores_label}) | HTTPS end to end | Ratio | Server CPU / attestation | Crypto / attestation | Server efficiency | Server CPU busy | Generator CPU busy | Failed |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let efficiency = r
            .server_us
            .map_or_else(|| "n/a".to_owned(), |us| format!("{:.1} %", 100.0 * r.crypto_us / us));
        println!(
            "| {} | {:.0} att/s | {:.0} att/s | {:.1} % | {} | {:.0} µs | {efficiency} | {} | {} | {} |",
            r.alg,
            r.limit,
            r.rate,
            100.0 * r.rate / r.limit,
            fmt(r.server_us, 1.0, " µs"),
            r.crypto_us,
            fmt(r.server_busy, 100.0, " %"),
            fmt(r.generator_busy, 100.0, " %"),
            r.failed,
        );
    }
}
