//! The attester side of MAA's TPM protocol: a minimal TPM 2.0 command layer, enough to create or
//! load an attestation key, persist it, extend and read PCRs and quote them. Commands are
//! marshalled here (TPM 2.0 Library Part 3), without libtss2; they reach the TPM through a
//! [`Transport`] chosen by a tpm2-tools TCTI string ([`Tcti`]: `device`, `swtpm`, `mssim`).

#![forbid(unsafe_code)]

pub mod request;
pub mod transport;

use std::time::Duration;

pub use transport::{DeviceTransport, MssimTransport, SocketTransport, Tcti, Transport};

/// A failed TPM command or transport.
#[derive(Debug)]
pub enum TpmError {
    /// The device or socket failed.
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
    /// A TCTI configuration string that cannot be used; the message names the part.
    Tcti(String),
    /// A command or response above [`transport::MAX_MESSAGE_SIZE`].
    TooLarge {
        /// `command` or `response`.
        what: &'static str,
        /// Its size in bytes.
        size: usize,
    },
    /// The reference simulator refused a signal or command (non-zero acknowledgement).
    Simulator {
        /// What was sent.
        what: &'static str,
        /// The signal or command code.
        code: u32,
        /// The acknowledgement.
        ack: u32,
    },
    /// A key that cannot serve as the attestation key, or a handle outside its range.
    Key(String),
}

impl TpmError {
    /// A stable code for scripts and logs.
    pub fn code(&self) -> &'static str {
        match self {
            TpmError::Io(_) => "TpmTransportFailed",
            TpmError::Rc { .. } => "TpmCommandFailed",
            TpmError::Malformed(_) => "TpmResponseMalformed",
            TpmError::Tcti(_) => "TctiInvalid",
            TpmError::TooLarge { .. } => "TpmMessageTooLarge",
            TpmError::Simulator { .. } => "TpmSimulatorRefused",
            TpmError::Key(_) => "AttestationKeyUnusable",
        }
    }
}

impl std::fmt::Display for TpmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TpmError::Io(e) => write!(f, "TPM transport: {e}"),
            TpmError::Rc { command, rc } => write!(f, "TPM command {command:#x} failed with rc {rc:#x}"),
            TpmError::Malformed(what) => write!(f, "malformed TPM response: {what}"),
            TpmError::Tcti(m) => write!(f, "TCTI: {m}"),
            TpmError::TooLarge { what, size } => write!(
                f,
                "TPM {what} of {size} bytes exceeds the {}-byte limit",
                transport::MAX_MESSAGE_SIZE
            ),
            TpmError::Simulator { what, code, ack } => {
                write!(f, "the TPM simulator refused {what} {code} (acknowledgement {ack:#x})")
            }
            TpmError::Key(m) => write!(f, "attestation key: {m}"),
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
const TPM_RH_OWNER: u32 = 0x4000_0001;
const TPM_RH_ENDORSEMENT: u32 = 0x4000_000B;
const TPM_ALG_RSA: u16 = 0x0001;
const TPM_ALG_SHA256: u16 = 0x000B;
const TPM_ALG_NULL: u16 = 0x0010;
const TPM_ALG_RSASSA: u16 = 0x0014;
const CC_EVICT_CONTROL: u32 = 0x0120;
const CC_CREATE_PRIMARY: u32 = 0x0131;
const CC_STARTUP: u32 = 0x0144;
const CC_PCR_EXTEND: u32 = 0x0182;
const CC_PCR_READ: u32 = 0x017E;
const CC_QUOTE: u32 = 0x0158;
const CC_FLUSH_CONTEXT: u32 = 0x0165;
const CC_READ_PUBLIC: u32 = 0x0173;
/// TPM_RC_INITIALIZE: TPM2_Startup on a TPM that is already started.
const RC_INITIALIZE: u32 = 0x0100;
/// objectAttributes `restricted` and `sign`.
const ATTR_RESTRICTED: u32 = 1 << 16;
const ATTR_SIGN: u32 = 1 << 18;
/// The persistent handles the owner hierarchy may use (TPM 2.0 Part 2, 7.5): 0x81000000–0x817FFFFF.
pub const OWNER_PERSISTENT: std::ops::RangeInclusive<u32> = 0x8100_0000..=0x817F_FFFF;
/// All persistent handles (TPM_HT_PERSISTENT).
pub const PERSISTENT: std::ops::RangeInclusive<u32> = 0x8100_0000..=0x81FF_FFFF;

/// A TPM reached through a [`Transport`].
#[derive(Debug)]
pub struct Tpm {
    transport: Box<dyn Transport>,
}

/// An attestation key in the TPM.
#[derive(Clone, Debug)]
pub struct AttestationKey {
    /// Its handle: transient after [`Tpm::create_ak`], persistent after [`Tpm::load_ak`].
    pub handle: u32,
    /// Its `TPMT_PUBLIC`.
    pub public: Vec<u8>,
    /// The RSA modulus.
    pub modulus: Vec<u8>,
}

impl AttestationKey {
    /// Whether the handle is persistent (it must not be flushed).
    pub fn is_persistent(&self) -> bool {
        PERSISTENT.contains(&self.handle)
    }

    /// The key's DER SubjectPublicKeyInfo (rsaEncryption, exponent 65537): what a CA certifies.
    pub fn spki_der(&self) -> Vec<u8> {
        rsa_spki_der(&self.modulus)
    }

    /// [`AttestationKey::spki_der`] as a PEM `PUBLIC KEY` block (64-column base64, LF).
    pub fn spki_pem(&self) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(self.spki_der());
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem
    }
}

/// DER length octets.
fn der_len(n: usize, out: &mut Vec<u8>) {
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = n.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend(&bytes[skip..]);
    }
}

fn der(tag: u8, content: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    der_len(content.len(), out);
    out.extend(content);
}

/// SubjectPublicKeyInfo { rsaEncryption NULL, BIT STRING RSAPublicKey { n, 65537 } }.
fn rsa_spki_der(modulus: &[u8]) -> Vec<u8> {
    let n = {
        let trimmed: Vec<u8> = modulus.iter().copied().skip_while(|b| *b == 0).collect();
        let mut v = Vec::with_capacity(trimmed.len() + 1);
        // INTEGER is signed: a leading 1 bit needs a zero octet.
        if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
            v.push(0);
        }
        v.extend(trimmed);
        v
    };
    let mut rsa_key = Vec::new();
    der(0x02, &n, &mut rsa_key);
    der(0x02, &[0x01, 0x00, 0x01], &mut rsa_key);
    let mut rsa_seq = Vec::new();
    der(0x30, &rsa_key, &mut rsa_seq);
    let mut bits = vec![0u8]; // no unused bits
    bits.extend(rsa_seq);
    // 1.2.840.113549.1.1.1 and NULL parameters.
    let alg: [u8; 15] = [
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut body = alg.to_vec();
    der(0x03, &bits, &mut body);
    let mut out = Vec::new();
    der(0x30, &body, &mut out);
    out
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

/// The modulus of an attestation key's `TPMT_PUBLIC`, after checking that it is what the request
/// claims: RSA, restricted signing, RSASSA-SHA256, 2048 bits, exponent 65537.
fn ak_modulus(public: &[u8]) -> Result<Vec<u8>, TpmError> {
    let unusable = |m: &str| TpmError::Key(m.to_owned());
    let mut p = Reader { buf: public, at: 0 };
    if p.u16("TPMT_PUBLIC type")? != TPM_ALG_RSA {
        return Err(unusable("not an RSA key"));
    }
    p.u16("nameAlg")?;
    let attributes = p.u32("objectAttributes")?;
    if attributes & (ATTR_RESTRICTED | ATTR_SIGN) != ATTR_RESTRICTED | ATTR_SIGN {
        return Err(unusable("not a restricted signing key"));
    }
    p.tpm2b("authPolicy")?;
    if p.u16("symmetric")? != TPM_ALG_NULL {
        return Err(unusable("a storage key (symmetric algorithm set), not a signing key"));
    }
    let scheme = p.u16("scheme")?;
    let hash = p.u16("scheme hash")?;
    if (scheme, hash) != (TPM_ALG_RSASSA, TPM_ALG_SHA256) {
        return Err(unusable("its scheme is not RSASSA with SHA-256"));
    }
    if p.u16("keyBits")? != 2048 {
        return Err(unusable("not an RSA-2048 key"));
    }
    if !matches!(p.u32("exponent")?, 0 | 65537) {
        return Err(unusable("its public exponent is not 65537"));
    }
    let modulus = p.tpm2b("unique")?.to_vec();
    if modulus.len() != 256 {
        return Err(TpmError::Malformed("the RSA-2048 modulus is not 256 bytes"));
    }
    Ok(modulus)
}

impl Tpm {
    /// Opens the TPM a tpm2-tools TCTI string names (see [`Tcti::parse`]).
    pub fn connect(tcti: &str) -> Result<Tpm, TpmError> {
        Tpm::open(&Tcti::parse(tcti)?)
    }

    /// Opens the TPM of `tcti`. A simulator (`mssim`) is powered on and started (TPM2_Startup
    /// CLEAR, a no-op on a TPM that is already started); devices and swtpm are taken as started.
    pub fn open(tcti: &Tcti) -> Result<Tpm, TpmError> {
        let mut tpm = Tpm {
            transport: tcti.open()?,
        };
        if matches!(tcti, Tcti::Mssim { .. }) {
            tpm.startup_clear()?;
        }
        Ok(tpm)
    }

    /// A TPM over any transport.
    pub fn with_transport(transport: impl Transport + 'static) -> Tpm {
        Tpm {
            transport: Box::new(transport),
        }
    }

    /// TPM2_Startup(TPM_SU_CLEAR); a TPM that is already started (TPM_RC_INITIALIZE) is fine.
    pub fn startup_clear(&mut self) -> Result<(), TpmError> {
        match self.command(TPM_ST_NO_SESSIONS, CC_STARTUP, &0u16.to_be_bytes()) {
            Ok(_) | Err(TpmError::Rc { rc: RC_INITIALIZE, .. }) => Ok(()),
            Err(e) => Err(e),
        }
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
        let response = self.transport.transmit(&cmd)?;
        let mut r = Reader { buf: &response, at: 0 };
        r.u16("response tag")?;
        let size = r.u32("responseSize")? as usize;
        let rc = r.u32("responseCode")?;
        if size != response.len() {
            return Err(TpmError::Malformed("responseSize differs from the response's length"));
        }
        if rc != 0 {
            return Err(TpmError::Rc { command: cc, rc });
        }
        Ok(response[10..].to_vec())
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
        let modulus = ak_modulus(&public)?;
        Ok(AttestationKey {
            handle,
            public,
            modulus,
        })
    }

    /// TPM2_ReadPublic of `handle`: its `TPMT_PUBLIC` and its name.
    pub fn read_public(&mut self, handle: u32) -> Result<(Vec<u8>, Vec<u8>), TpmError> {
        let resp = self.command(TPM_ST_NO_SESSIONS, CC_READ_PUBLIC, &handle.to_be_bytes())?;
        let mut r = Reader { buf: &resp, at: 0 };
        let public = r.tpm2b("outPublic")?.to_vec();
        let name = r.tpm2b("name")?.to_vec();
        Ok((public, name))
    }

    /// Loads the persistent attestation key at `handle` (0x81xxxxxx), which must be a restricted
    /// RSA-2048 RSASSA-SHA256 signing key with exponent 65537, such as [`Tpm::create_ak`] makes.
    pub fn load_ak(&mut self, handle: u32) -> Result<AttestationKey, TpmError> {
        if !PERSISTENT.contains(&handle) {
            return Err(TpmError::Key(format!(
                "handle {handle:#010x} is not a persistent handle (0x81000000-0x81ffffff)"
            )));
        }
        let (public, _) = self.read_public(handle)?;
        let modulus = ak_modulus(&public)?;
        Ok(AttestationKey {
            handle,
            public,
            modulus,
        })
    }

    /// Makes the transient `ak` persistent at `persistent` (TPM2_EvictControl, owner
    /// authorization, empty password) and returns it at its new handle. A handle that already
    /// holds this very key (the primary AK is deterministic) is accepted as it is; one holding
    /// another object is an error.
    pub fn persist_ak(&mut self, ak: &AttestationKey, persistent: u32) -> Result<AttestationKey, TpmError> {
        if !OWNER_PERSISTENT.contains(&persistent) {
            return Err(TpmError::Key(format!(
                "handle {persistent:#010x} is not an owner persistent handle (0x81000000-0x817fffff)"
            )));
        }
        match self.read_public(persistent) {
            Ok((public, _)) if public == ak.public => {
                return Ok(AttestationKey {
                    handle: persistent,
                    ..ak.clone()
                });
            }
            Ok(_) => {
                return Err(TpmError::Key(format!(
                    "handle {persistent:#010x} already holds another object; evict it first \
                     (tpm2_evictcontrol -C o -c {persistent:#010x})"
                )));
            }
            // TPM_RC_HANDLE (with a handle-number modifier): nothing there yet.
            Err(TpmError::Rc { rc, .. }) if rc & 0x0BF == 0x08B => {}
            Err(e) => return Err(e),
        }
        let mut body = Vec::new();
        body.extend(TPM_RH_OWNER.to_be_bytes());
        body.extend(ak.handle.to_be_bytes());
        password_session(&mut body);
        body.extend(persistent.to_be_bytes());
        self.command(TPM_ST_SESSIONS, CC_EVICT_CONTROL, &body)?;
        Ok(AttestationKey {
            handle: persistent,
            ..ak.clone()
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
