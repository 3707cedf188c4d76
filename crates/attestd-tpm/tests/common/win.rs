//! A software Windows attester for the tests: crypto-agile SHA-256 TCG logs with SIPA events,
//! quotes signed by an RSA AK, PCP platform claims (v1), VBS enclave reports signed by a VSM
//! identity key measured into the log, and attReq / attReqV2 request JWSs.

use std::task::{Context, Poll, Waker};

use attestd_tpm::eventlog::sipa;
use attestd_tpm::eventlog::{EventLog, HashAlg};
use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, KeyPair, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};

/// Polls a future that never waits.
pub fn ready<T>(f: impl std::future::Future<Output = T>) -> T {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the exchange waited"),
    }
}

pub fn rsa() -> RsaKeyPair {
    RsaKeyPair::generate(KeySize::Rsa2048).expect("key")
}

pub fn jwk(k: &RsaKeyPair) -> Value {
    let p = k.public_key();
    json!({"kty": "RSA", "n": B64.encode(p.modulus().big_endian_without_leading_zero()),
           "e": B64.encode(p.exponent().big_endian_without_leading_zero())})
}

pub fn sign(k: &RsaKeyPair, alg: &'static dyn signature::RsaEncoding, msg: &[u8]) -> Vec<u8> {
    let mut sig = vec![0u8; k.public_modulus_len()];
    k.sign(alg, &SystemRandom::new(), msg, &mut sig).expect("sign");
    sig
}

/// A crypto-agile log (SHA-256 bank) of (PCR, event type, data); digests are SHA-256(data).
pub fn agile_log(events: &[(u32, u32, Vec<u8>)]) -> Vec<u8> {
    let mut spec = b"Spec ID Event03\0".to_vec();
    spec.extend(0u32.to_le_bytes()); // platformClass
    spec.extend([0, 2, 0, 2]); // version 2.0, errata 0, uintnSize 2
    spec.extend(1u32.to_le_bytes());
    spec.extend(0x000bu16.to_le_bytes());
    spec.extend(32u16.to_le_bytes());
    spec.push(0); // vendorInfoSize
    let mut log = Vec::new();
    log.extend(0u32.to_le_bytes());
    log.extend(3u32.to_le_bytes()); // EV_NO_ACTION
    log.extend([0u8; 20]);
    log.extend((spec.len() as u32).to_le_bytes());
    log.extend(spec);
    for (pcr, kind, data) in events {
        log.extend(pcr.to_le_bytes());
        log.extend(kind.to_le_bytes());
        log.extend(1u32.to_le_bytes());
        log.extend(0x000bu16.to_le_bytes());
        log.extend(digest::digest(&digest::SHA256, data).as_ref());
        log.extend((data.len() as u32).to_le_bytes());
        log.extend(data);
    }
    log
}

/// SHA-256 PCRs 0..=23 after replaying `log` (zero where it extends nothing).
pub fn pcrs_after(log: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![vec![0u8; 32]; 24];
    let parsed = EventLog::parse(log).expect("log");
    for (bank, values) in parsed.replay() {
        if bank == HashAlg::Sha256 {
            for (i, v) in values {
                out[i as usize] = v;
            }
        }
    }
    out
}

/// TPMS_ATTEST quoting the SHA-256 PCRs of `mask` with `extra`, reset count `reset`, and the
/// raw RSASSA-SHA256 signature by `ak`.
pub fn quote(ak: &RsaKeyPair, extra: &[u8], pcrs: &[Vec<u8>], mask: u32, reset: u32) -> (Vec<u8>, Vec<u8>) {
    let mut q = Vec::new();
    q.extend(0xff54_4347u32.to_be_bytes());
    q.extend(0x8018u16.to_be_bytes());
    q.extend(2u16.to_be_bytes());
    q.extend([0, 0xb]);
    q.extend((extra.len() as u16).to_be_bytes());
    q.extend(extra);
    q.extend(7u64.to_be_bytes()); // clock
    q.extend(reset.to_be_bytes());
    q.extend(0u32.to_be_bytes()); // restartCount
    q.push(1); // safe
    q.extend(0x2016_0511_0016_2800u64.to_be_bytes());
    q.extend(1u32.to_be_bytes());
    q.extend(0x000bu16.to_be_bytes());
    q.push(3);
    q.extend(&mask.to_le_bytes()[..3]);
    let selected: Vec<&[u8]> = (0..24).filter(|i| mask & (1 << i) != 0).map(|i| &pcrs[i][..]).collect();
    let d = HashAlg::Sha256.hash(&selected);
    q.extend((d.len() as u16).to_be_bytes());
    q.extend(d);
    let sig = sign(ak, &signature::RSA_PKCS1_SHA256, &q);
    (q, sig)
}

/// TPMT_SIGNATURE (RSASSA-SHA256) of a raw signature.
pub fn tpmt(sig: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend(0x0014u16.to_be_bytes());
    t.extend(0x000bu16.to_be_bytes());
    t.extend((sig.len() as u16).to_be_bytes());
    t.extend(sig);
    t
}

/// `SIPAEVENT_VSM_IDK_INFO_PAYLOAD` of an RSA key.
pub fn idk_payload(k: &RsaKeyPair) -> Vec<u8> {
    let p = k.public_key();
    let e = p.exponent().big_endian_without_leading_zero().to_vec();
    let n = p.modulus().big_endian_without_leading_zero().to_vec();
    let mut out = Vec::new();
    out.extend(1u32.to_le_bytes());
    out.extend(((n.len() * 8) as u32).to_le_bytes());
    out.extend((e.len() as u32).to_le_bytes());
    out.extend((n.len() as u32).to_le_bytes());
    out.extend(e);
    out.extend(n);
    out
}

/// Windows boot settings a synthesized log measures.
#[derive(Clone)]
pub struct Boot {
    pub boot_debugging: Option<bool>,
    pub safe_mode: Option<bool>,
    pub win_pe: Option<bool>,
    pub iommu_required: Option<bool>,
    pub vsm_launch_type: Option<u64>,
    /// The VSM identity signing key measured (VSM_IDKS_INFO).
    pub idk: Option<Vec<u8>>,
    /// The PCR the SIPA events go to (12 on Windows).
    pub pcr: u32,
}

impl Default for Boot {
    fn default() -> Self {
        Boot {
            boot_debugging: Some(false),
            safe_mode: Some(false),
            win_pe: Some(false),
            iommu_required: Some(true),
            vsm_launch_type: Some(1),
            idk: None,
            pcr: 12,
        }
    }
}

/// A Windows-like log: the SecureBoot variable (PCR 7), a separator, a trust boundary of SIPA
/// events on `boot.pcr` (with two loaded modules on PCR 13).
pub fn windows_log(boot: &Boot) -> Vec<u8> {
    let flag = |v: bool| vec![u8::from(v)];
    let mut inner: Vec<(u32, Vec<u8>)> = vec![
        (0x0002_0002, 363u64.to_le_bytes().to_vec()), // BOOTCOUNTER
        (0x0002_0003, 1u32.to_le_bytes().to_vec()),   // TRANSFER_CONTROL
        (0x0002_0005, 4u32.to_le_bytes().to_vec()),   // BITLOCKER_UNLOCK: TPM
        (0x0005_0002, flag(true)),                    // CODEINTEGRITY
    ];
    if let Some(v) = boot.boot_debugging {
        inner.push((sipa::BOOTDEBUGGING, flag(v)));
    }
    if let Some(v) = boot.safe_mode {
        inner.push((sipa::SAFEMODE, flag(v)));
    }
    if let Some(v) = boot.win_pe {
        inner.push((sipa::WINPE, flag(v)));
    }
    if let Some(v) = boot.iommu_required {
        inner.push((sipa::VBS_IOMMU_REQUIRED, flag(v)));
    }
    if let Some(v) = boot.vsm_launch_type {
        inner.push((sipa::VSM_LAUNCH_TYPE, v.to_le_bytes().to_vec()));
    }
    if let Some(k) = &boot.idk {
        inner.push((sipa::VSM_IDKS_INFO, k.clone()));
    }
    let boundary = sipa::encode(&[(0x4001_0001, sipa::encode(&inner))]);
    let module = |path: &str, base: u64| {
        let path: Vec<u8> = path.encode_utf16().chain([0]).flat_map(u16::to_le_bytes).collect();
        sipa::encode(&[(
            0x4001_0003,
            sipa::encode(&[
                (0x0007_0001, path),
                (0x0007_0004, vec![0xAB; 32]),
                (0x0007_0007, base.to_le_bytes().to_vec()),
            ]),
        )])
    };
    let mut secure_boot = Vec::new();
    secure_boot.extend([
        0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11, 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c,
    ]);
    secure_boot.extend(10u64.to_le_bytes());
    secure_boot.extend(1u64.to_le_bytes());
    secure_boot.extend("SecureBoot".encode_utf16().flat_map(u16::to_le_bytes));
    secure_boot.push(1);
    agile_log(&[
        (7, 0x8000_0001, secure_boot),
        (7, 4, vec![0; 4]),
        (boot.pcr, 6, boundary),
        (13, 6, module("\\Windows\\System32\\winload.efi", 0x2000)),
        (13, 6, module("\\Windows\\System32\\ntoskrnl.exe", 0x4000)),
    ])
}

/// ENCLAVE_IDENTITY fields a report carries.
pub struct Identity {
    pub owner: [u8; 32],
    pub author: [u8; 32],
    pub family: [u8; 16],
    pub image: [u8; 16],
    pub svn: u32,
    pub platform_svn: u32,
    pub flags: u32,
}

impl Default for Identity {
    fn default() -> Self {
        let mut image = [0u8; 16];
        image[0] = 1;
        image[1] = 1;
        Identity {
            owner: [7; 32],
            author: [0; 32],
            family: [2; 16],
            image,
            svn: 3,
            platform_svn: 9,
            flags: 0,
        }
    }
}

/// A VBS enclave report package over `enclave_data`, with one module block, signed by `idk`
/// (RSA-PSS SHA-256 over the signed statement); `version` is the package header version.
pub fn vbs_report(idk: &RsaKeyPair, enclave_data: &[u8; 64], id: &Identity, version: u32) -> Vec<u8> {
    let mut identity = Vec::new();
    identity.extend(id.owner);
    identity.extend([5u8; 32]); // UniqueId
    identity.extend(id.author);
    identity.extend(id.family);
    identity.extend(id.image);
    for v in [id.svn, 4, id.platform_svn, id.flags, 12, 0x10] {
        identity.extend(v.to_le_bytes());
    }
    let name: Vec<u8> = "enclave.dll"
        .encode_utf16()
        .chain([0])
        .flat_map(u16::to_le_bytes)
        .collect();
    let mut module = Vec::new();
    module.extend(1u32.to_le_bytes());
    module.extend(((108 + name.len()) as u32).to_le_bytes());
    module.extend([5u8; 32]);
    module.extend(id.author);
    module.extend(id.family);
    module.extend(id.image);
    module.extend(id.svn.to_le_bytes());
    module.extend(name);
    let mut signed = Vec::new();
    let size = 8 + 64 + identity.len() + module.len();
    signed.extend((size as u32).to_le_bytes());
    signed.extend(1u32.to_le_bytes());
    signed.extend(enclave_data);
    signed.extend(identity);
    signed.extend(module);
    let sig = sign(idk, &signature::RSA_PSS_SHA256, &signed);
    let mut out = Vec::new();
    out.extend(((24 + signed.len() + sig.len()) as u32).to_le_bytes());
    out.extend(version.to_le_bytes());
    out.extend(1u32.to_le_bytes());
    out.extend((signed.len() as u32).to_le_bytes());
    out.extend((sig.len() as u32).to_le_bytes());
    out.extend(0u32.to_le_bytes());
    out.extend(signed);
    out.extend(sig);
    out
}

/// SHA-512 of `text` (what `EnclaveData` must be).
pub fn sha512(text: &str) -> [u8; 64] {
    let d = digest::digest(&digest::SHA512, text.as_bytes());
    let mut out = [0u8; 64];
    out.copy_from_slice(d.as_ref());
    out
}

/// A compact JWS of `payload` with header `typ`, signed (PS256) by `key`.
pub fn jws(key: &RsaKeyPair, typ: &str, payload: &str) -> String {
    let header = B64.encode(format!(r#"{{"alg":"PS256","typ":"{typ}"}}"#));
    let input = format!("{header}.{}", B64.encode(payload.as_bytes()));
    let sig = sign(key, &signature::RSA_PSS_SHA256, input.as_bytes());
    format!("{input}.{}", B64.encode(sig))
}

pub fn b64(b: &[u8]) -> String {
    B64.encode(b)
}

pub fn unb64(s: &str) -> Vec<u8> {
    B64.decode(s).expect("base64url")
}
