//! What the HTTPS load generators (`http_snp`, `http_sgx`, `http_tdx`) share: the load loop, the
//! crypto-only limit, CPU accounting from `/proc`, core pinning and the result tables.
//!
//! Two layouts, each measured in the same run:
//! - `split` (the headline): the server is started under `taskset -c 0` (so it sees one CPU and
//!   runs its single-threaded runtime, and every thread it has, SQLite's included, shares that
//!   core), the generator runs on core 1 and keeps it busy while it waits (see `spins`), and the
//!   crypto-only limit is measured by one thread on core 0: end to end is then "server on its
//!   core" against "crypto on one core".
//! - `shared`: nothing pinned; server, generator and the crypto threads (one per core) share every
//!   core, so the end-to-end rate also pays for the generator's TLS and HTTP work.
//!
//! Crypto and load alternate in rounds (`ATTESTD_LOAD_ROUNDS`, default 5: per round half the load
//! phase of crypto, then the load phase), so that both are measured over the same minutes of a
//! shared host, whose cores' speed drifts.
//!
//! Settings: `ATTESTD_LOAD_SECONDS` (default 10), `ATTESTD_LOAD_CONCURRENCY` (32),
//! `ATTESTD_LOAD_LAYOUT` (`split`, `shared` or `both`, the default), `ATTESTD_LOAD_SPIN` (`1`, the
//! default; `0`: the split layout's generator sleeps while it waits, as in the shared layout),
//! `ATTESTD_LOAD_ALGS` (token algorithms, default `RS256,ES256`), `ATTESTD_LOAD_BIN` (another
//! `attestd` binary to serve, e.g. a copy of an earlier build for a before/after comparison),
//! `ATTESTD_LOAD_HTTP` (`1`, the default: HTTP/1.1 with one connection per request in flight;
//! `2`: HTTP/2, every request a stream of one connection).

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
    verify: &Check,
    signing_input_len: usize,
    threads: usize,
    duration: Duration,
) -> (u64, f64) {
    let key = Arc::new(SigningKey::generate(alg).expect("key").0);
    let input = Arc::new(vec![b'e'; signing_input_len]);
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (verify, key, input, done) = (verify.clone(), key.clone(), input.clone(), done.clone());
            std::thread::spawn(move || {
                while start.elapsed() < duration {
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
    (done.load(Ordering::Relaxed), start.elapsed().as_secs_f64())
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

/// One request per task, `concurrency` at once: opens the connections and warms the caches.
async fn warm_up(client: &reqwest::Client, url: &str, body: &bytes::Bytes, concurrency: u64) {
    let warm: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, url, body) = (client.clone(), url.to_owned(), body.clone());
            tokio::spawn(async move { attest_once(&client, &url, &body).await })
        })
        .collect();
    for w in warm {
        w.await.expect("warm-up");
    }
}

/// `concurrency` requests in flight for `duration`; returns the attestations that succeeded and
/// failed and the time taken (until the last answer). Every request has its answer on return.
async fn load(
    client: &reqwest::Client,
    url: &str,
    body: &bytes::Bytes,
    concurrency: u64,
    duration: Duration,
    spin: bool,
) -> (u64, u64, f64) {
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    if spin {
        // Keeps the generator's core from going idle, so that the server's `writev` does not pay
        // for waking it (see `spins`).
        let stop = stop.clone();
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                tokio::task::yield_now().await;
            }
        });
    }
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
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    (
        ok.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        start.elapsed().as_secs_f64(),
    )
}

/// A signature check run in a loop by the crypto-only limit.
pub type Check = Arc<dyn Fn() + Send + Sync>;

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
    pub verify: Check,
    /// What `verify` is, for the table heading, e.g. `2 × P-256 verify`.
    pub crypto: &'static str,
    /// The part of `verify` the server really runs once its caches are warm, if less (DCAP: the
    /// quote signature alone; the QE report of a known attestation key is not verified again),
    /// with its label: then the table also gives the ratio to that.
    pub warm_verify: Option<(Check, &'static str)>,
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
    /// Per attestation, the crypto the warm server runs (`Target::warm_verify` + signature).
    warm_crypto_us: Option<f64>,
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
    let (crypto_cpus, crypto_threads) = match layout {
        Layout::Split => (SERVER_CPU.to_string(), 1),
        Layout::Shared => (all.to_owned(), cores()),
    };
    let generator_cpus = match layout {
        Layout::Split => GENERATOR_CPU.to_string(),
        Layout::Shared => all.to_owned(),
    };
    pin_self(&generator_cpus);
    // Built after pinning, so that its worker count follows the cores the generator may use.
    let rt = runtime();
    let client = load_client(&server);
    let body = bytes::Bytes::from(target.body.clone());
    // Sign as many bytes as the server's tokens have (header.payload), from one real token.
    let token = rt.block_on(attest_once(&client, &url, &target.body));
    let signing_input_len = token.rfind('.').unwrap_or(token.len());
    rt.block_on(warm_up(&client, &url, &body, concurrency));

    // Crypto and load phases alternate, so that both see the same machine: on a shared host the
    // speed of a core drifts by 10-20 % over seconds.
    let rounds = setting("ATTESTD_LOAD_ROUNDS", 5).max(1);
    let load_phase = Duration::from_secs_f64(seconds as f64 / rounds as f64);
    let crypto_phase = load_phase / 2;
    let (mut crypto, mut warm_crypto) = ((0u64, 0.0f64), (0u64, 0.0f64));
    let (mut ok, mut failed, mut load_s, mut wall) = (0u64, 0u64, 0.0f64, 0.0f64);
    let (mut server_cpu, mut generator_cpu) = (Some(0.0f64), Some(0.0f64));
    for _ in 0..rounds {
        pin_self(&crypto_cpus);
        let (n, t) = crypto_limit(alg, &target.verify, signing_input_len, crypto_threads, crypto_phase);
        crypto = (crypto.0 + n, crypto.1 + t);
        if let Some((v, _)) = &target.warm_verify {
            let (n, t) = crypto_limit(alg, v, signing_input_len, crypto_threads, crypto_phase);
            warm_crypto = (warm_crypto.0 + n, warm_crypto.1 + t);
        }
        pin_self(&generator_cpus);
        let (server0, self0) = (cpu_seconds(&pid), cpu_seconds("self"));
        let started = Instant::now();
        let (o, f, t) = rt.block_on(load(&client, &url, &body, concurrency, load_phase, spins(layout)));
        wall += started.elapsed().as_secs_f64();
        let (server1, self1) = (cpu_seconds(&pid), cpu_seconds("self"));
        (ok, failed, load_s) = (ok + o, failed + f, load_s + t);
        server_cpu = server_cpu.zip(server0.zip(server1)).map(|(sum, (a, b))| sum + b - a);
        generator_cpu = generator_cpu.zip(self0.zip(self1)).map(|(sum, (a, b))| sum + b - a);
    }
    drop(rt);
    pin_self(all);
    let limit = crypto.0 as f64 / crypto.1;
    let warm_limit = target
        .warm_verify
        .as_ref()
        .map(|_| warm_crypto.0 as f64 / warm_crypto.1);
    let rate = ok as f64 / load_s;
    let attestations = (ok + failed) as f64;
    let threads = crypto_threads as f64;
    Row {
        alg,
        limit,
        rate,
        failed,
        server_us: server_cpu.filter(|_| ok > 0).map(|c| 1e6 * c / attestations),
        server_busy: server_cpu.map(|c| c / wall),
        generator_busy: generator_cpu.map(|c| c / wall),
        crypto_us: 1e6 * threads / limit,
        warm_crypto_us: warm_limit.map(|l| 1e6 * threads / l),
    }
}

/// The generator's client: HTTP/1.1 (one keep-alive connection per request in flight), or with
/// `ATTESTD_LOAD_HTTP=2` HTTP/2 (ALPN `h2`: every request a stream of one connection).
fn load_client(server: &TestServer) -> reqwest::Client {
    match http_version() {
        2 => attestd_testkit::https_client_alpn(&server.ca_pem(), &[b"h2"]),
        _ => server.client(),
    }
}

/// Whether the generator keeps its core busy while it waits for answers (split layout only;
/// `ATTESTD_LOAD_SPIN=0` turns it off). On loopback the server's `writev` runs the client's
/// receive path, and when the generator's core is idle that includes waking it: in a VM an IPI
/// and a VM exit, ~17-24 µs of server CPU per answer on the development hosts, work that a
/// client on another machine never puts on the server. In the shared layout a spinning
/// generator would take the server's CPU, so it never spins there.
fn spins(layout: Layout) -> bool {
    layout == Layout::Split && setting("ATTESTD_LOAD_SPIN", 1) == 1
}

/// `ATTESTD_LOAD_HTTP`: 1 (the default) or 2.
fn http_version() -> u64 {
    setting("ATTESTD_LOAD_HTTP", 1)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn print_table(target: &Target, layout: Layout, rows: &[Row], concurrency: u64, seconds: u64) {
    let (heading, cores_label) = match layout {
        Layout::Split if spins(layout) => (
            "server on core 0, generator on core 1 (never idle), crypto limit on 1 core",
            "1 core",
        ),
        Layout::Split => (
            "server on core 0, generator on core 1 (sleeps while waiting), crypto limit on 1 core",
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
    if let Some((_, warm)) = &target.warm_verify {
        println!("Warm crypto = {warm} + token signature: what the server runs once its caches are warm.");
        println!();
    }
    let warm = target.warm_verify.is_some();
    println!(
        "| Token | Crypto-only limit ({cores_label}) | HTTPS end to end | Ratio | Server CPU / attestation | Crypto / attestation | Server efficiency |{} Server CPU busy | Generator CPU busy | Failed |",
        if warm {
            " Warm crypto / attestation | Ratio to warm crypto |"
        } else {
            ""
        }
    );
    println!(
        "|---|---|---|---|---|---|---|{}---|---|---|",
        if warm { "---|---|" } else { "" }
    );
    for r in rows {
        let efficiency = r
            .server_us
            .map_or_else(|| "n/a".to_owned(), |us| format!("{:.1} %", 100.0 * r.crypto_us / us));
        let warm_cells = match (r.warm_crypto_us, r.server_us) {
            (Some(w), Some(us)) => format!(" {w:.0} µs | {:.1} % |", 100.0 * w / us),
            (Some(w), None) => format!(" {w:.0} µs | n/a |"),
            _ => String::new(),
        };
        println!(
            "| {} | {:.0} att/s | {:.0} att/s | {:.1} % | {} | {:.0} µs | {efficiency} |{warm_cells} {} | {} | {} |",
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
