//! TCG PC Client boot event logs: parsing (crypto-agile and legacy SHA-1 formats), PCR replay,
//! and MAA's `events` claim.
//!
//! Layouts from the TCG PC Client Platform Firmware Profile (sections "Event Logging"):
//! a legacy log is a sequence of `TCG_PCClientPCREvent` (SHA-1 digest only); a crypto-agile log
//! starts with one such event of type `EV_NO_ACTION` whose data is the "Spec ID Event03"
//! structure naming the digest algorithms, followed by `TCG_PCR_EVENT2` records. All integers
//! are little-endian.

mod decode;
pub mod sipa;
mod types;

use std::fmt;

use aws_lc_rs::digest;
use serde_json::{Map, Value, json};

pub use types::event_type_name;

/// The PCRs a PC Client TPM has.
pub const PCR_COUNT: usize = 24;

/// A digest algorithm of a log or a PCR bank (TPM_ALG_ID).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashAlg {
    /// TPM_ALG_SHA1 (0x0004).
    Sha1,
    /// TPM_ALG_SHA256 (0x000B).
    Sha256,
    /// TPM_ALG_SHA384 (0x000C).
    Sha384,
    /// TPM_ALG_SHA512 (0x000D).
    Sha512,
}

impl HashAlg {
    /// From a TPM_ALG_ID.
    pub fn from_id(id: u16) -> Option<HashAlg> {
        match id {
            0x0004 => Some(HashAlg::Sha1),
            0x000B => Some(HashAlg::Sha256),
            0x000C => Some(HashAlg::Sha384),
            0x000D => Some(HashAlg::Sha512),
            _ => None,
        }
    }

    /// The digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            HashAlg::Sha1 => 20,
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }

    /// MAA's name of the bank in claims, e.g. `SHA256`.
    pub fn name(self) -> &'static str {
        match self {
            HashAlg::Sha1 => "SHA1",
            HashAlg::Sha256 => "SHA256",
            HashAlg::Sha384 => "SHA384",
            HashAlg::Sha512 => "SHA512",
        }
    }

    fn algorithm(self) -> &'static digest::Algorithm {
        match self {
            HashAlg::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            HashAlg::Sha256 => &digest::SHA256,
            HashAlg::Sha384 => &digest::SHA384,
            HashAlg::Sha512 => &digest::SHA512,
        }
    }

    /// Hashes `parts` in order.
    pub fn hash(self, parts: &[&[u8]]) -> Vec<u8> {
        let mut ctx = digest::Context::new(self.algorithm());
        for p in parts {
            ctx.update(p);
        }
        ctx.finish().as_ref().to_vec()
    }
}

/// Why a log was rejected. Every variant names where (event number, byte offset).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventLogError {
    /// The log is empty.
    Empty,
    /// A record ends beyond the end of the log.
    Truncated {
        /// 1-based event number.
        event: usize,
        /// Byte offset of the record.
        offset: usize,
        /// The field being read.
        field: &'static str,
    },
    /// A record is malformed.
    Malformed {
        /// 1-based event number.
        event: usize,
        /// Byte offset of the record.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
}

impl EventLogError {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            EventLogError::Empty => "EventLogEmpty",
            EventLogError::Truncated { .. } => "EventLogTruncated",
            EventLogError::Malformed { .. } => "EventLogMalformed",
        }
    }
}

impl fmt::Display for EventLogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventLogError::Empty => f.write_str("the TCG event log is empty"),
            EventLogError::Truncated { event, offset, field } => {
                write!(
                    f,
                    "the TCG event log ends inside event {event} (at byte {offset}) while reading {field}"
                )
            }
            EventLogError::Malformed { event, offset, reason } => {
                write!(f, "TCG event log event {event} (at byte {offset}): {reason}")
            }
        }
    }
}

impl std::error::Error for EventLogError {}

/// One event of a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// 1-based position in the log (MAA's `EventSeq`), the header event included.
    pub seq: usize,
    /// The PCR the event extends.
    pub pcr: u32,
    /// The TCG event type.
    pub event_type: u32,
    /// The digests, one per bank, in log order.
    pub digests: Vec<(HashAlg, Vec<u8>)>,
    /// The event data.
    pub data: Vec<u8>,
}

/// Replayed PCR values of one bank: (PCR index, value) for every PCR the log extends.
pub type Bank = (HashAlg, Vec<(u32, Vec<u8>)>);

/// A parsed log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventLog {
    /// The banks the log records (SHA-1 only for a legacy log).
    pub banks: Vec<HashAlg>,
    /// Whether the log is crypto-agile.
    pub crypto_agile: bool,
    /// Every event, the header included.
    pub events: Vec<Event>,
    /// The locality the platform started in (the StartupLocality event), which sets PCR 0's
    /// initial value.
    pub startup_locality: u8,
}

const EV_NO_ACTION: u32 = 3;

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
    event: usize,
    start: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], EventLogError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(EventLogError::Truncated {
                event: self.event,
                offset: self.start,
                field,
            })?;
        let s = &self.buf[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, EventLogError> {
        let b = self.take(2, field)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, EventLogError> {
        let b = self.take(4, field)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn malformed(&self, reason: impl Into<String>) -> EventLogError {
        EventLogError::Malformed {
            event: self.event,
            offset: self.start,
            reason: reason.into(),
        }
    }
}

/// Largest event data accepted (real firmware blobs stay far below; a bigger size is corruption).
const MAX_EVENT_DATA: usize = 16 << 20;

impl EventLog {
    /// Parses a log in either format. Trailing zero padding (as firmware exposes the log in a
    /// fixed-size buffer) ends the log.
    pub fn parse(buf: &[u8]) -> Result<EventLog, EventLogError> {
        if buf.is_empty() {
            return Err(EventLogError::Empty);
        }
        let mut r = Reader {
            buf,
            at: 0,
            event: 1,
            start: 0,
        };
        // The first event is always in the legacy format.
        let first = legacy_event(&mut r)?;
        let spec = (first.event_type == EV_NO_ACTION)
            .then(|| spec_id_algorithms(&first.data))
            .flatten();
        let mut log = EventLog {
            banks: vec![HashAlg::Sha1],
            crypto_agile: spec.is_some(),
            events: Vec::new(),
            startup_locality: 0,
        };
        let table = match spec {
            Some(table) => {
                let table = table.map_err(|e| r.malformed(e))?;
                log.banks = table.iter().filter_map(|(id, _)| HashAlg::from_id(*id)).collect();
                table
            }
            None => Vec::new(),
        };
        log.events.push(first);
        while r.at < buf.len() {
            // Zero padding after the last event.
            if buf[r.at..].iter().all(|&b| b == 0) {
                break;
            }
            r.event = log.events.len() + 1;
            r.start = r.at;
            let e = if log.crypto_agile {
                agile_event(&mut r, &table)?
            } else {
                legacy_event(&mut r)?
            };
            if e.event_type == EV_NO_ACTION
                && e.pcr == 0
                && e.data.len() >= 17
                && e.data.starts_with(b"StartupLocality\0")
            {
                log.startup_locality = e.data[16];
            }
            log.events.push(e);
        }
        Ok(log)
    }

    /// The PCR values the log implies, per bank, for every PCR some event extends.
    pub fn replay(&self) -> Vec<Bank> {
        let mut out = Vec::new();
        for &bank in &self.banks {
            let mut pcrs: Vec<Option<Vec<u8>>> = vec![None; PCR_COUNT];
            for e in &self.events {
                if e.event_type == EV_NO_ACTION {
                    continue;
                }
                let Some((_, d)) = e.digests.iter().find(|(a, _)| *a == bank) else {
                    continue;
                };
                let slot = &mut pcrs[e.pcr as usize];
                let current = slot.get_or_insert_with(|| {
                    let mut init = vec![0u8; bank.digest_len()];
                    if e.pcr == 0
                        && let Some(last) = init.last_mut()
                    {
                        *last = self.startup_locality;
                    }
                    init
                });
                *current = bank.hash(&[current, d]);
            }
            let values = pcrs
                .into_iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| (i as u32, v)))
                .collect();
            out.push((bank, values));
        }
        out
    }

    /// MAA's `events` claim: `{"Events": [...]}` with `EventSeq`, `PcrIndex`, `EventType`,
    /// `EventTypeString`, `Digests` (base64url per bank), `RawData` (base64url) and
    /// `ProcessedData` (decoded for the common UEFI event types, else `null`).
    pub fn to_claim(&self) -> Value {
        let events: Vec<Value> = self
            .events
            .iter()
            .map(|e| {
                let mut o = Map::new();
                let mut digests = Map::new();
                for (alg, d) in &e.digests {
                    digests.insert(alg.name().to_owned(), Value::String(b64url(d)));
                }
                o.insert("Digests".into(), Value::Object(digests));
                o.insert("EventSeq".into(), json!(e.seq));
                o.insert("EventType".into(), json!(e.event_type));
                if let Some(name) = event_type_name(e.event_type) {
                    o.insert("EventTypeString".into(), json!(name));
                }
                o.insert("PcrIndex".into(), json!(e.pcr));
                o.insert("ProcessedData".into(), decode::processed_data(e));
                o.insert("RawData".into(), Value::String(b64url(&e.data)));
                Value::Object(o)
            })
            .collect();
        json!({ "Events": events })
    }
}

pub(crate) fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn check_pcr(r: &Reader<'_>, pcr: u32) -> Result<(), EventLogError> {
    if pcr as usize >= PCR_COUNT {
        return Err(r.malformed(format!("PCR index {pcr} is not a PC Client PCR (0..23)")));
    }
    Ok(())
}

fn event_data(r: &mut Reader<'_>) -> Result<Vec<u8>, EventLogError> {
    let size = r.u32("eventSize")? as usize;
    if size > MAX_EVENT_DATA {
        return Err(r.malformed(format!("event data size {size} exceeds {MAX_EVENT_DATA}")));
    }
    Ok(r.take(size, "event data")?.to_vec())
}

fn legacy_event(r: &mut Reader<'_>) -> Result<Event, EventLogError> {
    let pcr = r.u32("pcrIndex")?;
    check_pcr(r, pcr)?;
    let event_type = r.u32("eventType")?;
    let digest = r.take(20, "SHA-1 digest")?.to_vec();
    let data = event_data(r)?;
    Ok(Event {
        seq: r.event,
        pcr,
        event_type,
        digests: vec![(HashAlg::Sha1, digest)],
        data,
    })
}

/// The (TPM_ALG_ID, digest size) table of a "Spec ID Event03" header, or `None` if `data` is not
/// one.
fn spec_id_algorithms(data: &[u8]) -> Option<Result<Vec<(u16, u16)>, String>> {
    if !data.starts_with(b"Spec ID Event03\0") {
        return None;
    }
    // signature[16], platformClass u32, version minor/major/errata u8, uintnSize u8, count u32.
    let parse = || -> Result<Vec<(u16, u16)>, String> {
        let count = data.get(24..28).ok_or("the Spec ID event is too short")?;
        let n = u32::from_le_bytes([count[0], count[1], count[2], count[3]]) as usize;
        if n == 0 || n > 16 {
            return Err(format!("the Spec ID event names {n} algorithms"));
        }
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let rec = data
                .get(28 + i * 4..32 + i * 4)
                .ok_or("the Spec ID event's algorithm list is truncated")?;
            let id = u16::from_le_bytes([rec[0], rec[1]]);
            let size = u16::from_le_bytes([rec[2], rec[3]]);
            if HashAlg::from_id(id).is_some_and(|alg| alg.digest_len() != usize::from(size)) {
                return Err(format!("algorithm {id:#06x} declared with digest size {size}"));
            }
            out.push((id, size));
        }
        Ok(out)
    };
    Some(parse())
}

fn agile_event(r: &mut Reader<'_>, table: &[(u16, u16)]) -> Result<Event, EventLogError> {
    let pcr = r.u32("pcrIndex")?;
    check_pcr(r, pcr)?;
    let event_type = r.u32("eventType")?;
    let count = r.u32("digests.count")? as usize;
    if count > 16 {
        return Err(r.malformed(format!("{count} digests in one event")));
    }
    let mut digests = Vec::with_capacity(count);
    for _ in 0..count {
        let id = r.u16("digest algorithm")?;
        // Sizes come from the header, so that banks we do not replay can still be skipped.
        let size = table
            .iter()
            .find(|(tid, _)| *tid == id)
            .map(|(_, size)| usize::from(*size))
            .ok_or_else(|| {
                r.malformed(format!(
                    "digest algorithm {id:#06x} is not declared by the Spec ID event"
                ))
            })?;
        let d = r.take(size, "digest")?.to_vec();
        if let Some(alg) = HashAlg::from_id(id) {
            digests.push((alg, d));
        }
    }
    let data = event_data(r)?;
    Ok(Event {
        seq: r.event,
        pcr,
        event_type,
        digests,
        data,
    })
}
