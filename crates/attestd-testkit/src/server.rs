//! A real `attestd serve` process for integration tests.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// A running `attestd serve` on an ephemeral port, with its own data directory.
///
/// Dropping it kills the process.
pub struct TestServer {
    bin: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    data_dir: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    port: u16,
    url: String,
    _tmp: Option<tempfile::TempDir>,
}

impl TestServer {
    /// Starts `bin serve` with a fresh data directory and `extra` arguments.
    pub fn start(bin: &Path, extra: &[&str]) -> TestServer {
        Self::start_with_env(bin, extra, &[])
    }

    /// Like [`TestServer::start`], with extra environment variables.
    pub fn start_with_env(bin: &Path, extra: &[&str], env: &[(&str, &str)]) -> TestServer {
        let tmp = tempfile::tempdir().expect("tempdir");
        let data_dir = tmp.path().join("data");
        let mut server = TestServer {
            bin: bin.to_owned(),
            args: extra.iter().map(|s| (*s).to_owned()).collect(),
            env: env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            log: tmp.path().join("server.log"),
            data_dir,
            child: None,
            port: 0,
            url: String::new(),
            _tmp: Some(tmp),
        };
        server.spawn();
        server
    }

    /// The base URL, `https://localhost:PORT` (or `http://` with `--insecure-http`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The TLS certificate the server made on first start (a self-signed CA for clients).
    pub fn ca_pem(&self) -> PathBuf {
        self.data_dir.join("tls/cert.pem")
    }

    /// An HTTPS client that trusts exactly this server's certificate.
    pub fn client(&self) -> reqwest::Client {
        https_client(&self.ca_pem())
    }

    /// What the server wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the process with SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process again with the same data directory, arguments and port.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Runs `bin` with `args` against this server's data directory (e.g. `provider create`) and
    /// returns its standard output; panics if it fails.
    pub fn run_cli(&self, args: &[&str]) -> String {
        let out = Command::new(&self.bin)
            .args(args)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("run attestd");
        assert!(
            out.status.success(),
            "attestd {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn spawn(&mut self) {
        let listen = format!("127.0.0.1:{}", self.port);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let mut child = Command::new(&self.bin)
            .arg("serve")
            .arg("--listen")
            .arg(&listen)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env_remove("ATTESTD_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn attestd");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        // Read the start-up banner, then keep draining stdout so the server never blocks on it.
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                if let Some(url) = line.trim().strip_prefix("attestd listening on ") {
                    let _ = tx.send(url.to_owned());
                }
                line.clear();
            }
            let mut rest = Vec::new();
            let _ = reader.read_to_end(&mut rest);
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => {
                self.port = url
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.trim_end_matches('/').parse().ok())
                    .expect("port in URL");
                self.url = url;
                self.child = Some(child);
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("attestd did not start; its log:\n{}", self.log());
            }
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A client builder with the process's rustls crypto provider installed (aws-lc-rs), for tests
/// that configure their own client (name resolution overrides, plain HTTP).
pub fn client_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder().timeout(Duration::from_secs(30))
}

/// An HTTPS client that trusts only the certificate(s) in `ca_pem`.
pub fn https_client(ca_pem: &Path) -> reqwest::Client {
    https_client_alpn(ca_pem, &[])
}

/// [`https_client`] offering the ALPN protocols `alpn` (e.g. `h2` for HTTP/2; none: HTTP/1.1).
pub fn https_client_alpn(ca_pem: &Path, alpn: &[&[u8]]) -> reqwest::Client {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_pem).expect("read CA PEM") {
        roots.add(cert.expect("PEM certificate")).expect("add root");
    }
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}
