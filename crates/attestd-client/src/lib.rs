//! The attester side of MAA's TPM protocol: a minimal TPM 2.0 command layer over a raw TCP TCTI
//! (`swtpm socket --server type=tcp`), enough to create an attestation key, extend and read PCRs
//! and quote them. Commands are marshalled here (TPM 2.0 Library Part 3), without libtss2.

#![forbid(unsafe_code)]

pub mod request;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A failed TPM command or transport.
#[derive(Debug)]
pub enum TpmError {
    /// The socket failed.
    Io(std::io::Error),
    /// The TPM answered a response code other than success.
    Rc {
        /// The command code.
        command: u32,
        /// The response code.
        rc: u32,
    },
    /// The response could not be parsed.
    Malformed(&'static str),
}

impl std::fmt::Display for TpmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TpmError::Io(e) => write!(f, "TPM transport: {e}"),
            TpmError::Rc { command, rc } => write!(f, "TPM command {command:#x} failed with rc {rc:#x}"),
            TpmError::Malformed(what) => write!(f, "malformed TPM response: {what}"),
        }
    }
}

impl std::error::Error for TpmError {}

impl From<std::io::Error> for TpmError {
    fn from(e: std::io::Error) -> Self {
        TpmError::Io(e)
    }
}

const TPM_ST_NO_SESSIONS: u16 = 0x8001;
const TPM_ST_SESSIONS: u16 = 0x8002;
const TPM_RS_PW: u32 = 0x4000_0009;
const TPM_RH_ENDORSEMENT: u32 = 0x4000_000B;
const TPM_ALG_RSA: u16 = 0x0001;
const TPM_ALG_SHA256: u16 = 0x000B;
const TPM_ALG_NULL: u16 = 0x0010;
const TPM_ALG_RSASSA: u16 = 0x0014;
const CC_CREATE_PRIMARY: u32 = 0x0131;
const CC_PCR_EXTEND: u32 = 0x0182;
const CC_PCR_READ: u32 = 0x017E;
const CC_QUOTE: u32 = 0x0158;
const CC_FLUSH_CONTEXT: u32 = 0x0165;

/// A TPM reached over a raw TCP command socket.
#[derive(Debug)]
pub struct Tpm {
    stream: TcpStream,
}

/// An attestation key in the TPM.
#[derive(Clone, Debug)]
pub struct AttestationKey {
    /// Its transient handle.
    pub handle: u32,
    /// Its `TPMT_PUBLIC`.
    pub public: Vec<u8>,
    /// The RSA modulus.
    pub modulus: Vec<u8>,
}

/// A quote and its signature.
#[derive(Clone, Debug)]
pub struct Quote {
    /// `TPMS_ATTEST`.
    pub attest: Vec<u8>,
    /// `TPMT_SIGNATURE`.
    pub signature: Vec<u8>,
}

/// The empty password authorization area.
fn password_session(out: &mut Vec<u8>) {
    out.extend(9u32.to_be_bytes());
    out.extend(TPM_RS_PW.to_be_bytes());
    out.extend(0u16.to_be_bytes());
    out.push(0);
    out.extend(0u16.to_be_bytes());
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], TpmError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or(TpmError::Malformed(what))?;
        let s = &self.buf[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, TpmError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, TpmError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn tpm2b(&mut self, what: &'static str) -> Result<&'a [u8], TpmError> {
        let n = self.u16(what)?;
        self.take(usize::from(n), what)
    }
}

impl Tpm {
    /// Connects to a TCTI string `swtpm:host=H,port=P` (or `H:P`); the TPM must be started.
    pub fn connect(tcti: &str) -> Result<Tpm, TpmError> {
        let addr = match tcti.strip_prefix("swtpm:") {
            Some(opts) => {
                let mut host = "127.0.0.1";
                let mut port = "2321";
                for kv in opts.split(',') {
                    match kv.split_once('=') {
                        Some(("host", h)) => host = h,
                        Some(("port", p)) => port = p,
                        _ => {}
                    }
                }
                format!("{host}:{port}")
            }
            None => tcti.to_owned(),
        };
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Tpm { stream })
    }

    /// Sends one command, again while the TPM answers TPM_RC_RETRY / YIELDED / TESTING; returns
    /// the response after its header.
    fn command(&mut self, tag: u16, cc: u32, body: &[u8]) -> Result<Vec<u8>, TpmError> {
        let mut attempts = 0;
        loop {
            match self.command_once(tag, cc, body) {
                Err(TpmError::Rc {
                    rc: 0x922 | 0x908 | 0x90A,
                    ..
                }) if attempts < 50 => {
                    attempts += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
                other => return other,
            }
        }
    }

    fn command_once(&mut self, tag: u16, cc: u32, body: &[u8]) -> Result<Vec<u8>, TpmError> {
        let size = u32::try_from(10 + body.len()).map_err(|_| TpmError::Malformed("command too large"))?;
        let mut cmd = Vec::with_capacity(10 + body.len());
        cmd.extend(tag.to_be_bytes());
        cmd.extend(size.to_be_bytes());
        cmd.extend(cc.to_be_bytes());
        cmd.extend(body);
        self.stream.write_all(&cmd)?;
        let mut header = [0u8; 10];
        self.stream.read_exact(&mut header)?;
        let size = u32::from_be_bytes([header[2], header[3], header[4], header[5]]) as usize;
        let rc = u32::from_be_bytes([header[6], header[7], header[8], header[9]]);
        let mut rest = vec![0u8; size.checked_sub(10).ok_or(TpmError::Malformed("response size"))?];
        self.stream.read_exact(&mut rest)?;
        if rc != 0 {
            return Err(TpmError::Rc { command: cc, rc });
        }
        Ok(rest)
    }

    /// Creates a restricted RSA-2048 signing key (RSASSA-SHA256) under the endorsement hierarchy.
    pub fn create_ak(&mut self) -> Result<AttestationKey, TpmError> {
        let mut public = Vec::new();
        public.extend(TPM_ALG_RSA.to_be_bytes());
        public.extend(TPM_ALG_SHA256.to_be_bytes());
        // fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | restricted | sign
        public.extend(0x0005_0072u32.to_be_bytes());
        public.extend(0u16.to_be_bytes()); // authPolicy
        public.extend(TPM_ALG_NULL.to_be_bytes()); // symmetric
        public.extend(TPM_ALG_RSASSA.to_be_bytes());
        public.extend(TPM_ALG_SHA256.to_be_bytes());
        public.extend(2048u16.to_be_bytes());
        public.extend(0u32.to_be_bytes()); // exponent: default
        public.extend(0u16.to_be_bytes()); // unique
        let mut body = Vec::new();
        body.extend(TPM_RH_ENDORSEMENT.to_be_bytes());
        password_session(&mut body);
        body.extend(4u16.to_be_bytes()); // inSensitive: empty userAuth and data
        body.extend([0u8; 4]);
        body.extend(u16::try_from(public.len()).unwrap_or(0).to_be_bytes());
        body.extend(&public);
        body.extend(0u16.to_be_bytes()); // outsideInfo
        body.extend(0u32.to_be_bytes()); // creationPCR
        let resp = self.command(TPM_ST_SESSIONS, CC_CREATE_PRIMARY, &body)?;
        let mut r = Reader { buf: &resp, at: 0 };
        let handle = r.u32("objectHandle")?;
        let _param_size = r.u32("parameterSize")?;
        let public = r.tpm2b("outPublic")?.to_vec();
        let mut p = Reader { buf: &public, at: 0 };
        p.take(2 + 2 + 4, "TPMT_PUBLIC header")?;
        p.tpm2b("authPolicy")?;
        if p.u16("symmetric")? != TPM_ALG_NULL {
            return Err(TpmError::Malformed("AK with a symmetric algorithm"));
        }
        p.take(2 + 2 + 2 + 4, "RSA parameters")?;
        let modulus = p.tpm2b("unique")?.to_vec();
        Ok(AttestationKey {
            handle,
            public,
            modulus,
        })
    }

    /// Unloads a transient object (the TPM has only a few slots).
    pub fn flush(&mut self, handle: u32) -> Result<(), TpmError> {
        self.command(TPM_ST_NO_SESSIONS, CC_FLUSH_CONTEXT, &handle.to_be_bytes())
            .map(|_| ())
    }

    /// Extends SHA-256 PCR `index` with `digest`.
    pub fn pcr_extend(&mut self, index: u32, digest: &[u8; 32]) -> Result<(), TpmError> {
        let mut body = Vec::new();
        body.extend(index.to_be_bytes());
        password_session(&mut body);
        body.extend(1u32.to_be_bytes());
        body.extend(TPM_ALG_SHA256.to_be_bytes());
        body.extend(digest);
        self.command(TPM_ST_SESSIONS, CC_PCR_EXTEND, &body).map(|_| ())
    }

    /// Reads SHA-256 PCRs 0..=23.
    pub fn pcr_read(&mut self) -> Result<[[u8; 32]; 24], TpmError> {
        let mut out = [[0u8; 32]; 24];
        for group in 0..3usize {
            let mut select = [0u8; 3];
            select[group] = 0xff;
            let mut body = Vec::new();
            body.extend(1u32.to_be_bytes());
            body.extend(TPM_ALG_SHA256.to_be_bytes());
            body.push(3);
            body.extend(select);
            let resp = self.command(TPM_ST_NO_SESSIONS, CC_PCR_READ, &body)?;
            let mut r = Reader { buf: &resp, at: 0 };
            r.u32("pcrUpdateCounter")?;
            let banks = r.u32("pcrSelectionOut.count")?;
            for _ in 0..banks {
                r.u16("hash")?;
                let n = r.take(1, "sizeofSelect")?[0];
                r.take(usize::from(n), "pcrSelect")?;
            }
            let count = r.u32("pcrValues.count")?;
            if count != 8 {
                return Err(TpmError::Malformed("PCR_Read did not return 8 digests"));
            }
            for i in 0..8 {
                let d = r.tpm2b("digest")?;
                out[group * 8 + i] = d.try_into().map_err(|_| TpmError::Malformed("digest size"))?;
            }
        }
        Ok(out)
    }

    /// Quotes SHA-256 PCRs 0..=23 with `ak` over `qualifying_data`.
    pub fn quote(&mut self, ak: &AttestationKey, qualifying_data: &[u8]) -> Result<Quote, TpmError> {
        let mut body = Vec::new();
        body.extend(ak.handle.to_be_bytes());
        password_session(&mut body);
        let qd_len = u16::try_from(qualifying_data.len()).map_err(|_| TpmError::Malformed("qualifying data"))?;
        body.extend(qd_len.to_be_bytes());
        body.extend(qualifying_data);
        body.extend(TPM_ALG_NULL.to_be_bytes()); // the key's scheme
        body.extend(1u32.to_be_bytes());
        body.extend(TPM_ALG_SHA256.to_be_bytes());
        body.push(3);
        body.extend([0xff, 0xff, 0xff]);
        let resp = self.command(TPM_ST_SESSIONS, CC_QUOTE, &body)?;
        let mut r = Reader { buf: &resp, at: 0 };
        let param_size = r.u32("parameterSize")? as usize;
        let params = r.take(param_size, "parameters")?;
        let mut p = Reader { buf: params, at: 0 };
        let attest = p.tpm2b("quoted")?.to_vec();
        let signature = params[p.at..].to_vec();
        Ok(Quote { attest, signature })
    }
}

/// Builds a TCG PC Client crypto-agile event log (SHA-256 only): the "Spec ID Event03" header
/// then one `TCG_PCR_EVENT2` per measurement, for attesters whose firmware log is not at hand
/// (tests, or measurements the attester makes itself). Extend the same digests into the TPM.
#[derive(Clone, Debug)]
pub struct EventLogBuilder {
    bytes: Vec<u8>,
}

impl Default for EventLogBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl EventLogBuilder {
    /// A log with only its header.
    pub fn new() -> EventLogBuilder {
        let mut spec = Vec::new();
        spec.extend(b"Spec ID Event03\0");
        spec.extend(0u32.to_le_bytes()); // platformClass
        spec.extend([0, 2, 0, 2]); // version 2.0, errata 0, uintnSize 2 (UINT64)
        spec.extend(1u32.to_le_bytes());
        spec.extend(TPM_ALG_SHA256.to_le_bytes());
        spec.extend(32u16.to_le_bytes());
        spec.push(0); // vendorInfoSize
        let mut bytes = Vec::new();
        bytes.extend(0u32.to_le_bytes()); // PCR 0
        bytes.extend(3u32.to_le_bytes()); // EV_NO_ACTION
        bytes.extend([0u8; 20]);
        bytes.extend(u32::try_from(spec.len()).unwrap_or(0).to_le_bytes());
        bytes.extend(spec);
        EventLogBuilder { bytes }
    }

    /// Records an event of `event_type` on `pcr` with `data`, measured as `digest`.
    pub fn event(&mut self, pcr: u32, event_type: u32, digest: &[u8; 32], data: &[u8]) -> &mut Self {
        self.bytes.extend(pcr.to_le_bytes());
        self.bytes.extend(event_type.to_le_bytes());
        self.bytes.extend(1u32.to_le_bytes());
        self.bytes.extend(TPM_ALG_SHA256.to_le_bytes());
        self.bytes.extend(digest);
        self.bytes
            .extend(u32::try_from(data.len()).unwrap_or(u32::MAX).to_le_bytes());
        self.bytes.extend(data);
        self
    }

    /// The log's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}
