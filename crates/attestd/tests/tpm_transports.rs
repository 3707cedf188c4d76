//! The TPM client's transports against real software TPMs, and the TPM token's JOSE header.
//!
//! * `device:` framing (one write per command, the whole response per read) against `swtpm chardev`
//!   over a Unix socket pair — swtpm's chardev mode has exactly a TPM character device's semantics;
//!   size caps, split responses, short writes and early EOF against a scripted stream;
//! * `mssim:` framing against an in-test fake of the reference simulator's two ports that forwards
//!   the unwrapped commands to a real `swtpm socket`, checking power-on / NV-on first, the
//!   locality byte, the acknowledgement and the session end; refused signals and acks;
//! * `attestd tpm create-ak --persist` then `attestd tpm attest --ak-handle` (TCTI from
//!   `TPM2TOOLS_TCTI`) over HTTPS: a persistent AK whose certificate stays valid; the TPM token
//!   carries `x5c` by default and, under a policy with `omit_x5c`, `x5t` and no `x5c`; both verify
//!   against `/certs`.
//!
//! swtpm missing is a failure, not a skip (`scripts/test` installs it).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod common;

use attestd_client::{AttestationKey, DeviceTransport, MssimTransport, Tpm, TpmError, Transport};
use attestd_testkit::TestServer;
use attestd_token::{JwkSet, KeySet, Validation, b64, verify};
use aws_lc_rs::signature;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_attestd");
const ADMIN: &str = "tcti-test-admin-token-0123456789";

fn sha256(parts: &[&[u8]]) -> Vec<u8> {
    let mut c = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for p in parts {
        c.update(p);
    }
    c.finish().as_ref().to_vec()
}

fn assert_swtpm() {
    let found = Command::new("swtpm").arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "swtpm is not installed: the TPM transport tests need it (scripts/test installs swtpm swtpm-tools)"
    );
}

/// A swtpm process, killed on drop.
struct Swtpm {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free TCP port `p` whose `p + 1` is free too.
fn port_pair() -> u16 {
    for _ in 0..50 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no free port pair");
}

impl Swtpm {
    /// `swtpm socket` with its raw command socket on `port` (and control on `port + 1`).
    fn socket() -> Swtpm {
        assert_swtpm();
        let dir = tempfile::tempdir().expect("tmp");
        let port = port_pair();
        let child = Command::new("swtpm")
            .args(["socket", "--tpm2", "--flags", "not-need-init,startup-clear"])
            .arg("--tpmstate")
            .arg(format!("dir={}", dir.path().display()))
            .args(["--server", &format!("type=tcp,port={port},bindaddr=127.0.0.1")])
            .args(["--ctrl", &format!("type=tcp,port={},bindaddr=127.0.0.1", port + 1)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn swtpm");
        let mut tpm = Swtpm { child, port, _dir: dir };
        for _ in 0..100 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return tpm;
            }
            if let Ok(Some(status)) = tpm.child.try_wait() {
                panic!("swtpm exited: {status}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("swtpm did not start on port {port}");
    }

    /// `swtpm chardev` on one end of a Unix socket pair; returns the other end. swtpm refuses fds
    /// 0–2, so a shell moves its standard input to fd 3 (no unsafe `pre_exec` needed).
    fn chardev() -> (Swtpm, std::os::unix::net::UnixStream) {
        assert_swtpm();
        let dir = tempfile::tempdir().expect("tmp");
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().expect("socketpair");
        let script = format!(
            "exec swtpm chardev --tpm2 --fd 3 --flags not-need-init,startup-clear --tpmstate dir={} 3<&0 </dev/null",
            dir.path().display()
        );
        let child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs)))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn swtpm chardev");
        ours.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
        (
            Swtpm {
                child,
                port: 0,
                _dir: dir,
            },
            ours,
        )
    }

    fn tcti(&self) -> String {
        format!("swtpm:host=127.0.0.1,port={}", self.port)
    }
}

/// The `extraData` (qualifying data) of a TPMS_ATTEST.
fn extra_data(attest: &[u8]) -> &[u8] {
    let signer = usize::from(u16::from_be_bytes([attest[6], attest[7]]));
    let at = 8 + signer;
    let n = usize::from(u16::from_be_bytes([attest[at], attest[at + 1]]));
    &attest[at + 2..at + 2 + n]
}

/// Quotes over fresh qualifying data and checks the RSASSA-SHA256 signature with the AK's key and
/// that the quote carries the data: the whole command path works over this transport.
fn quote_verifies(tpm: &mut Tpm, ak: &AttestationKey) {
    let qualifying = sha256(&[b"transport test", &ak.modulus]);
    let q = tpm.quote(ak, &qualifying).expect("TPM2_Quote");
    assert_eq!(extra_data(&q.attest), &qualifying[..]);
    assert_eq!(&q.signature[..4], &[0x00, 0x14, 0x00, 0x0b], "RSASSA, SHA-256");
    let sig = &q.signature[6..];
    signature::RsaPublicKeyComponents {
        n: &ak.modulus[..],
        e: &[1u8, 0, 1][..],
    }
    .verify(&signature::RSA_PKCS1_2048_8192_SHA256, &q.attest, sig)
    .expect("the quote's signature verifies with the AK");
    // The same key through the SubjectPublicKeyInfo a CA is given.
    signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, ak.spki_der())
        .verify(&q.attest, sig)
        .expect("the quote verifies with the AK's SubjectPublicKeyInfo");
}

#[test]
fn the_device_transport_drives_swtpm_chardev_over_a_socket_pair() {
    let (_swtpm, stream) = Swtpm::chardev();
    let mut tpm = Tpm::with_transport(DeviceTransport::new(stream));
    let ak = tpm.create_ak().expect("create AK over the device framing");
    assert!(!ak.is_persistent());
    let d: [u8; 32] = sha256(&[b"measured"]).try_into().expect("32");
    tpm.pcr_extend(23, &d).expect("extend");
    let pcrs = tpm.pcr_read().expect("PCR_Read");
    assert_eq!(pcrs[23].to_vec(), sha256(&[&[0u8; 32], &d]));
    assert_eq!(pcrs[15], [0u8; 32], "an untouched static PCR");
    quote_verifies(&mut tpm, &ak);

    // A persistent AK: EvictControl, then ReadPublic gives the same key; idempotent for the same key.
    let persistent = tpm.persist_ak(&ak, 0x8101_0002).expect("persist");
    assert!(persistent.is_persistent());
    tpm.flush(ak.handle).expect("flush the transient copy");
    let loaded = tpm.load_ak(0x8101_0002).expect("load the persistent AK");
    assert_eq!((loaded.handle, &loaded.modulus), (0x8101_0002, &ak.modulus));
    quote_verifies(&mut tpm, &loaded);
    let again = tpm.create_ak().expect("the same primary again");
    assert_eq!(again.modulus, ak.modulus, "the primary AK is deterministic");
    tpm.persist_ak(&again, 0x8101_0002)
        .expect("persisting the same key twice is fine");

    // Wrong handles name themselves.
    for (h, needle) in [(0x8180_0000u32, "owner persistent"), (0x8000_0001, "")] {
        let e = tpm.persist_ak(&again, h).expect_err("bad handle");
        assert_eq!(e.code(), "AttestationKeyUnusable", "{e}");
        assert!(
            e.to_string().contains(&format!("{h:#010x}")) && e.to_string().contains(needle),
            "{e}"
        );
    }
    let e = tpm.load_ak(0x0100_0000).expect_err("an NV index");
    assert_eq!(e.code(), "AttestationKeyUnusable");
    let e = tpm.load_ak(0x8101_0003).expect_err("nothing there");
    assert!(matches!(e, TpmError::Rc { .. }), "{e:?}");
    // A handle holding another object is not overwritten.
    let other = AttestationKey {
        public: vec![1, 2, 3],
        ..again.clone()
    };
    let e = tpm
        .persist_ak(&other, 0x8101_0002)
        .expect_err("occupied by another object");
    assert!(e.to_string().contains("already holds another object"), "{e}");
    tpm.flush(again.handle).expect("flush");
}

/// A scripted stream: answers `reply` in chunks of `chunk` bytes, records what is written, and
/// accepts at most `write_cap` bytes per write.
#[derive(Debug)]
struct Scripted {
    reply: Vec<u8>,
    at: usize,
    chunk: usize,
    write_cap: usize,
    written: Arc<Mutex<Vec<u8>>>,
}

impl Scripted {
    fn new(reply: Vec<u8>, chunk: usize) -> Scripted {
        Scripted {
            reply,
            at: 0,
            chunk,
            write_cap: usize::MAX,
            written: Arc::default(),
        }
    }
}

impl Read for Scripted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.chunk.min(buf.len()).min(self.reply.len() - self.at);
        buf[..n].copy_from_slice(&self.reply[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl Write for Scripted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.write_cap);
        self.written.lock().expect("lock").extend(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A TPM response: tag, size, rc 0, then `body`.
fn response(body: &[u8]) -> Vec<u8> {
    let mut r = vec![0x80, 0x01];
    r.extend(u32::try_from(10 + body.len()).expect("size").to_be_bytes());
    r.extend([0u8; 4]);
    r.extend(body);
    r
}

#[test]
fn the_device_transport_caps_sizes_and_reads_a_whole_response() {
    let get_random = [0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7B, 0, 8];
    // Delivered in 3-byte pieces: assembled up to responseSize.
    let ok = response(&[0, 8, 1, 2, 3, 4, 5, 6, 7, 8]);
    let s = Scripted::new(ok.clone(), 3);
    let written = s.written.clone();
    assert_eq!(DeviceTransport::new(s).transmit(&get_random).expect("ok"), ok);
    assert_eq!(*written.lock().expect("lock"), get_random.to_vec(), "one whole command");

    let code = |reply: Vec<u8>, chunk: usize| {
        DeviceTransport::new(Scripted::new(reply, chunk))
            .transmit(&get_random)
            .expect_err("refused")
    };
    // A header announcing more than the cap.
    let mut big = response(&[]);
    big[2..6].copy_from_slice(&5000u32.to_be_bytes());
    let e = code(big, 4096);
    assert_eq!(e.code(), "TpmMessageTooLarge", "{e}");
    assert!(e.to_string().contains("5000"), "{e}");
    // A size below the header.
    let mut small = response(&[]);
    small[2..6].copy_from_slice(&8u32.to_be_bytes());
    assert_eq!(code(small, 4096).code(), "TpmResponseMalformed");
    // More bytes than the header's size in one read.
    let mut trailing = response(&[0, 0]);
    trailing.push(0xAA);
    assert_eq!(code(trailing, 4096).code(), "TpmResponseMalformed");
    // The device closes mid-response.
    let mut cut = response(&[0, 8, 1, 2, 3, 4, 5, 6, 7, 8]);
    cut.truncate(14);
    let e = code(cut, 4096);
    assert_eq!(e.code(), "TpmTransportFailed", "{e}");
    // A device that takes only part of a command.
    let mut s = Scripted::new(ok, 4096);
    s.write_cap = 5;
    let e = DeviceTransport::new(s).transmit(&get_random).expect_err("short write");
    assert!(e.to_string().contains("5 of the command's 12 bytes"), "{e}");
    // A command above the cap is never written.
    let s = Scripted::new(vec![], 4096);
    let written = s.written.clone();
    let e = DeviceTransport::new(s)
        .transmit(&vec![0u8; 4097])
        .expect_err("too large");
    assert_eq!(e.code(), "TpmMessageTooLarge");
    assert!(written.lock().expect("lock").is_empty());
}

/// What the fake simulator saw, in order.
type Log = Arc<Mutex<Vec<String>>>;

/// A fake of the reference simulator's TCP protocol on `port` (commands) and `port + 1`
/// (platform) that forwards each unwrapped command to a real swtpm.
fn fake_mssim(port: u16, swtpm_port: u16, log: Log) {
    let commands = TcpListener::bind(("127.0.0.1", port)).expect("command port");
    let platform = TcpListener::bind(("127.0.0.1", port + 1)).expect("platform port");
    let plog = log.clone();
    std::thread::spawn(move || {
        let Ok((mut s, _)) = platform.accept() else { return };
        let mut sig = [0u8; 4];
        while s.read_exact(&mut sig).is_ok() {
            let signal = u32::from_be_bytes(sig);
            plog.lock().expect("lock").push(format!("platform {signal}"));
            if signal == 20 {
                return;
            }
            let _ = s.write_all(&0u32.to_be_bytes());
        }
    });
    std::thread::spawn(move || {
        let Ok((mut s, _)) = commands.accept() else { return };
        let mut tpm = TcpStream::connect(("127.0.0.1", swtpm_port)).expect("swtpm");
        let mut word = [0u8; 4];
        while s.read_exact(&mut word).is_ok() {
            let code = u32::from_be_bytes(word);
            if code != 8 {
                log.lock().expect("lock").push(format!("command-port {code}"));
                return;
            }
            let mut locality = [0u8; 1];
            s.read_exact(&mut locality).expect("locality");
            s.read_exact(&mut word).expect("length");
            let mut cmd = vec![0u8; u32::from_be_bytes(word) as usize];
            s.read_exact(&mut cmd).expect("command");
            let cc = u32::from_be_bytes([cmd[6], cmd[7], cmd[8], cmd[9]]);
            log.lock()
                .expect("lock")
                .push(format!("send locality={} cc={cc:#x}", locality[0]));
            tpm.write_all(&cmd).expect("forward");
            let mut head = [0u8; 10];
            tpm.read_exact(&mut head).expect("swtpm header");
            let size = u32::from_be_bytes([head[2], head[3], head[4], head[5]]) as usize;
            let mut resp = head.to_vec();
            resp.resize(size, 0);
            tpm.read_exact(&mut resp[10..]).expect("swtpm body");
            let mut out = u32::try_from(size).expect("size").to_be_bytes().to_vec();
            out.extend(resp);
            out.extend(0u32.to_be_bytes());
            s.write_all(&out).expect("answer");
        }
    });
}

#[test]
fn the_mssim_transport_frames_commands_for_the_reference_simulator() {
    let swtpm = Swtpm::socket();
    let port = port_pair();
    let log = Log::default();
    fake_mssim(port, swtpm.port, log.clone());
    let mut tpm = Tpm::connect(&format!("mssim:host=127.0.0.1,port={port}")).expect("connect over mssim");
    let ak = tpm.create_ak().expect("create AK over mssim framing");
    quote_verifies(&mut tpm, &ak);
    tpm.flush(ak.handle).expect("flush");
    drop(tpm);
    // The session end reaches both ports.
    for _ in 0..100 {
        if log.lock().expect("lock").iter().filter(|l| l.ends_with(" 20")).count() == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let seen = log.lock().expect("lock").clone();
    let platform: Vec<_> = seen.iter().filter(|l| l.starts_with("platform")).collect();
    assert_eq!(platform, ["platform 1", "platform 11", "platform 20"], "{seen:?}");
    let sends: Vec<_> = seen.iter().filter(|l| l.starts_with("send")).collect();
    // TPM2_Startup first (already started: tolerated), every command at locality 0.
    assert_eq!(
        sends.first().map(|s| s.as_str()),
        Some("send locality=0 cc=0x144"),
        "{seen:?}"
    );
    assert!(sends.iter().all(|s| s.starts_with("send locality=0 ")), "{seen:?}");
    assert!(sends.iter().any(|s| s.ends_with("cc=0x158")), "a quote: {seen:?}");
    assert!(seen.contains(&"command-port 20".to_owned()), "{seen:?}");
}

#[test]
fn the_mssim_transport_refuses_nacks_and_oversized_answers() {
    let platform = |reply: Vec<u8>| Scripted::new(reply, 4096);
    // NV-on refused.
    let e = MssimTransport::new(platform(vec![]), platform([0u8, 0, 0, 0, 0, 0, 0, 1].to_vec())).expect_err("nack");
    assert_eq!(e.code(), "TpmSimulatorRefused", "{e}");
    assert!(e.to_string().contains("platform signal 11"), "{e}");
    let cmd = [0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7B, 0, 8];
    let mut reply = 12u32.to_be_bytes().to_vec();
    reply.extend(response(&[0, 0]));
    let ok_platform = || platform([0u8; 8].to_vec());
    // A non-zero acknowledgement after the response.
    let mut nack = reply.clone();
    nack.extend(5u32.to_be_bytes());
    let mut t = MssimTransport::new(Scripted::new(nack, 4096), ok_platform()).expect("power on");
    assert_eq!(t.transmit(&cmd).expect_err("nack").code(), "TpmSimulatorRefused");
    // The framing: TPM_SEND_COMMAND, locality 0, length, command.
    let mut acked = reply.clone();
    acked.extend(0u32.to_be_bytes());
    let s = Scripted::new(acked, 4096);
    let written = s.written.clone();
    let mut t = MssimTransport::new(s, ok_platform()).expect("power on");
    assert_eq!(t.transmit(&cmd).expect("ok"), response(&[0, 0]));
    let mut framed = vec![0, 0, 0, 8, 0, 0, 0, 0, 12];
    framed.extend(cmd);
    assert_eq!(*written.lock().expect("lock"), framed);
    // A length above the cap, and one that disagrees with responseSize.
    let mut t = MssimTransport::new(Scripted::new(5000u32.to_be_bytes().to_vec(), 4096), ok_platform()).expect("on");
    assert_eq!(t.transmit(&cmd).expect_err("big").code(), "TpmMessageTooLarge");
    let mut liar = 13u32.to_be_bytes().to_vec();
    liar.extend(response(&[0, 0]));
    liar.push(0);
    liar.extend(0u32.to_be_bytes());
    let mut t = MssimTransport::new(Scripted::new(liar, 4096), ok_platform()).expect("on");
    assert_eq!(t.transmit(&cmd).expect_err("liar").code(), "TpmResponseMalformed");
}

/// Creates tenant `tcti` (token trust model) and returns an operator token for its management API.
async fn operator_token(server: &TestServer) -> String {
    common::token_tenant(server, ADMIN, "tcti", None).await
}

async fn set_policy(server: &TestServer, bearer: &str, policy: &str) {
    common::set_policy(server, "tcti", "Tpm", bearer, policy).await;
}

/// The modulus of a PEM RSA `PUBLIC KEY`, read by openssl (an independent parser).
fn openssl_modulus(pem: &Path) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(["rsa", "-pubin", "-noout", "-modulus", "-in"])
        .arg(pem)
        .output()
        .expect("openssl");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("utf8");
    let hex = text.trim().strip_prefix("Modulus=").expect("Modulus=");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

/// `attestd tpm attest` against the `tcti` tenant; returns the token.
fn attest_cli(server: &TestServer, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(BIN);
    cmd.args(["tpm", "attest", "--server", &format!("{}/tenants/tcti", server.url())])
        .args(["--ca", server.ca_pem().to_str().expect("utf-8")])
        .args(args)
        .env_remove("TPM2TOOLS_TCTI")
        .env_remove("TCTI");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run attestd tpm attest");
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

fn header(token: &str) -> Value {
    serde_json::from_slice(&b64::decode_url_strict(token.split('.').next().expect("header")).expect("b64"))
        .expect("header json")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_persistent_ak_attests_and_omit_x5c_drops_the_chain_from_the_token() {
    let swtpm = Swtpm::socket();
    let dir = tempfile::tempdir().expect("tmp");
    // A CA for AKs; the server trusts it.
    let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("ca key");
    let mut ca_params = rcgen::CertificateParams::new(vec![]).expect("params");
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "attestd test AK CA");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
    let ca_cert = ca_params.self_signed(&ca_key).expect("root");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let roots = dir.path().join("ak-roots.pem");
    std::fs::write(&roots, ca_cert.pem()).expect("roots");
    let server = TestServer::start(
        Path::new(BIN),
        &[
            "--admin-token",
            ADMIN,
            "--tpm-aik-roots",
            roots.to_str().expect("utf-8"),
        ],
    );
    let bearer = operator_token(&server).await;

    // create-ak: persistent at 0x81010002, the public key printed and written for the CA.
    let ak_pub = dir.path().join("ak.pub");
    let out = Command::new(BIN)
        .args([
            "tpm",
            "create-ak",
            "--tcti",
            &swtpm.tcti(),
            "--persist",
            "0x81010002",
            "--out",
        ])
        .arg(&ak_pub)
        .output()
        .expect("run create-ak");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pem = std::fs::read_to_string(&ak_pub).expect("ak.pub");
    assert_eq!(String::from_utf8_lossy(&out.stdout), pem, "printed and stored alike");
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{pem}");
    let modulus = openssl_modulus(&ak_pub);
    let loaded = Tpm::connect(&swtpm.tcti())
        .and_then(|mut t| t.load_ak(0x8101_0002))
        .expect("the key is at the handle");
    assert_eq!(loaded.modulus, modulus, "ak.pub is the persistent key");
    // A second run finds the same key there and succeeds; a bad handle names itself.
    let again = Command::new(BIN)
        .args(["tpm", "create-ak", "--tcti", &swtpm.tcti(), "--persist", "0x81010002"])
        .output()
        .expect("run create-ak");
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let bad = Command::new(BIN)
        .args(["tpm", "create-ak", "--tcti", &swtpm.tcti(), "--persist", "0x81800000"])
        .output()
        .expect("run create-ak");
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && stderr.contains("AttestationKeyUnusable"),
        "{stderr}"
    );

    // The CA certifies the key from ak.pub.
    let mut params = rcgen::CertificateParams::new(vec![]).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "persistent AK");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::Other(vec![2, 23, 133, 8, 3])];
    let cert = params
        .signed_by(&common::RsaPublic::new(&modulus), &issuer)
        .expect("ak cert");
    let cert_pem = dir.path().join("ak.pem");
    std::fs::write(&cert_pem, cert.pem()).expect("cert");

    let (_, jwks) = {
        let r = server
            .client()
            .get(format!("{}/tenants/tcti/certs", server.url()))
            .send()
            .await
            .expect("certs");
        ((), r.json::<JwkSet>().await.expect("jwks"))
    };
    let keys = KeySet::from_jwks(&jwks).expect("keys");
    let signing_cert = jwks.keys[0].x5c[0].clone();
    let validation = Validation::default();

    // Default: the TPM report names the signing certificate chain in x5c. TCTI from the environment.
    set_policy(
        &server,
        &bearer,
        "version=1.1; authorizationrules { [type==\"aikValidated\", value==true] => permit(); }; issuancerules { c:[type==\"aikValidated\"] => issue(type=\"aik\", value=c.value); };",
    )
    .await;
    let ak_args = [
        "--ak-handle",
        "0x81010002",
        "--ak-cert",
        cert_pem.to_str().expect("utf-8"),
    ];
    let token = attest_cli(
        &server,
        &ak_args,
        &[("TPM2TOOLS_TCTI", &swtpm.tcti()), ("TCTI", "bogus")],
    );
    let h = header(&token);
    assert_eq!(h["x5c"], json!([signing_cert]), "{h}");
    assert!(h.get("x5t").is_none(), "{h}");
    let v = verify(&token, &keys, &validation).expect("the token verifies against /certs");
    assert_eq!(
        v.claims.get("x-ms-policy"),
        Some(&json!({"aik": true})),
        "{:?}",
        v.claims
    );

    // omit_x5c: no chain, the thumbprint instead; still verifies against /certs. --tcti beats $TCTI.
    set_policy(
        &server,
        &bearer,
        "version=1.1; configurationrules { => issueproperty(type=\"omit_x5c\", value=true); }; authorizationrules { [type==\"aikValidated\", value==true] => permit(); }; issuancerules { c:[type==\"aikValidated\"] => issue(type=\"aik\", value=c.value); };",
    )
    .await;
    let mut args = ak_args.to_vec();
    let tcti = swtpm.tcti();
    args.extend(["--tcti", &tcti]);
    let token = attest_cli(&server, &args, &[("TCTI", "bogus")]);
    let h = header(&token);
    assert!(h.get("x5c").is_none(), "{h}");
    let der = b64::decode_std(&signing_cert).expect("der");
    let sha1 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &der);
    assert_eq!(h["x5t"], json!(b64::encode_url(sha1.as_ref())), "{h}");
    assert_eq!(h["kid"], json!(jwks.keys[0].kid), "{h}");
    let v = verify(&token, &keys, &validation).expect("the omit_x5c token verifies against /certs");
    assert_eq!(
        v.claims.get("x-ms-policy"),
        Some(&json!({"aik": true})),
        "{:?}",
        v.claims
    );

    // A bad TCTI in the environment is reported with its variable.
    let out = Command::new(BIN)
        .args(["tpm", "attest", "--server", server.url()])
        .env("TPM2TOOLS_TCTI", "tabrmd")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("TctiInvalid") && stderr.contains("TPM2TOOLS_TCTI"),
        "{stderr}"
    );
}
