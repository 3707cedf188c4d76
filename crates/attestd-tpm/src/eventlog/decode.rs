//! `ProcessedData` of the common UEFI event types, in the shapes MAA's `events` claim shows
//! (reference C.5.4). Undecodable data gives `null`; the raw bytes are always in `RawData`.

use serde_json::{Map, Value, json};

use super::{Event, b64url};

/// Decodes an event's data; `null` when the type is not decoded or the data is malformed.
pub(crate) fn processed_data(e: &Event) -> Value {
    match e.event_type {
        // UEFI_VARIABLE_DATA
        0x8000_0001 | 0x8000_0002 | 0x8000_000C | 0x8000_00E0 => variable(&e.data).unwrap_or(Value::Null),
        0x0000_0004 => {
            let mut o = Map::new();
            for (alg, d) in &e.digests {
                o.insert(format!("CappedHash[{}]", alg.name()), Value::String(b64url(d)));
            }
            Value::Object(o)
        }
        0x0000_0005 | 0x8000_0007 => text(&e.data).map_or(Value::Null, |s| json!({ "Data": s })),
        // Windows SIPA events (PCRs 12-14).
        super::sipa::EV_EVENT_TAG => super::sipa::processed(&e.data).unwrap_or(Value::Null),
        // UEFI_PLATFORM_FIRMWARE_BLOB
        0x8000_0008 => match (u64_at(&e.data, 0), u64_at(&e.data, 8)) {
            (Some(base), Some(len)) if e.data.len() == 16 => json!({"BlobBase": base, "BlobLength": len}),
            _ => Value::Null,
        },
        // UEFI_IMAGE_LOAD_EVENT
        0x8000_0003..=0x8000_0005 => image_load(&e.data).unwrap_or(Value::Null),
        // UEFI_GPT_DATA (EV_EFI_GPT_EVENT, EV_EFI_GPT_EVENT2)
        0x8000_0006 | 0x8000_000D => gpt(&e.data).unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at + 8)?;
    Some(u64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]))
}

/// ASCII/UTF-8 text without trailing NULs.
fn text(b: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(b).ok()?;
    Some(s.trim_end_matches('\0').to_owned())
}

/// An EFI_GUID in registry form, upper case (first three fields little-endian).
pub(crate) fn guid(b: &[u8]) -> Option<String> {
    let g = b.get(..16)?;
    Some(format!(
        "{:02X}{:02X}{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
        g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]
    ))
}

pub(crate) fn utf16(b: &[u8]) -> Option<String> {
    if !b.len().is_multiple_of(2) {
        return None;
    }
    let units: Vec<u16> = b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    String::from_utf16(&units)
        .ok()
        .map(|s| s.trim_end_matches('\0').to_owned())
}

/// UEFI_VARIABLE_DATA: VariableName GUID, UnicodeNameLength u64 (characters), VariableDataLength
/// u64, UnicodeName (UTF-16LE), VariableData.
fn variable(b: &[u8]) -> Option<Value> {
    let guid = guid(b)?;
    let name_len = usize::try_from(u64_at(b, 16)?).ok()?.checked_mul(2)?;
    let data_len = usize::try_from(u64_at(b, 24)?).ok()?;
    let name_end = 32usize.checked_add(name_len)?;
    let data_end = name_end.checked_add(data_len)?;
    if data_end != b.len() {
        return None;
    }
    let name = utf16(&b[32..name_end])?;
    Some(json!({
        "UnicodeName": name,
        "VariableData": b64url(&b[name_end..data_end]),
        "VariableGuid": guid,
    }))
}

/// UEFI_IMAGE_LOAD_EVENT: ImageLocationInMemory, ImageLengthInMemory, ImageLinkTimeAddress (u64
/// each), LengthOfDevicePath u64, DevicePath.
fn image_load(b: &[u8]) -> Option<Value> {
    let location = u64_at(b, 0)?;
    let length = u64_at(b, 8)?;
    let link = u64_at(b, 16)?;
    let dp_len = usize::try_from(u64_at(b, 24)?).ok()?;
    let dp = b.get(32..32usize.checked_add(dp_len)?)?;
    Some(json!({
        "DevicePath": device_path(dp),
        "ImageLengthInMemory": length,
        "ImageLinkTimeAddress": link,
        "ImageLocationInMemory": location,
    }))
}

/// Size of UEFI_PARTITION_TABLE_HEADER as UEFI_GPT_DATA carries it.
const GPT_HEADER_LEN: usize = 92;
/// The fixed part of an EFI_PARTITION_ENTRY: two GUIDs, three u64s, a 36-character name.
const GPT_ENTRY_MIN: usize = 128;
/// More partitions than any disk has is corruption (GPT reserves room for 128).
const GPT_MAX_PARTITIONS: u64 = 1024;

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// UEFI_GPT_DATA: the disk's UEFI_PARTITION_TABLE_HEADER, NumberOfPartitions u64, then that many
/// EFI_PARTITION_ENTRY of the header's SizeOfPartitionEntry bytes each.
fn gpt(b: &[u8]) -> Option<Value> {
    let h = b.get(..GPT_HEADER_LEN)?;
    if h.get(..8)? != b"EFI PART" {
        return None;
    }
    let entry_size = usize::try_from(u32_at(h, 84)?).ok()?;
    if entry_size < GPT_ENTRY_MIN {
        return None;
    }
    let count = u64_at(b, GPT_HEADER_LEN)?;
    if count > GPT_MAX_PARTITIONS {
        return None;
    }
    let entries = &b[GPT_HEADER_LEN + 8..];
    let count = usize::try_from(count).ok()?;
    if entries.len() != count.checked_mul(entry_size)? {
        return None;
    }
    let partitions: Option<Vec<Value>> = entries
        .chunks_exact(entry_size)
        .map(|p| {
            Some(json!({
                "PartitionTypeGUID": guid(p)?,
                "UniquePartitionGUID": guid(&p[16..])?,
                "StartingLBA": u64_at(p, 32)?,
                "EndingLBA": u64_at(p, 40)?,
                "Attributes": u64_at(p, 48)?,
                "PartitionName": utf16(&p[56..128])?,
            }))
        })
        .collect();
    Some(json!({
        "Header": {
            "Signature": "EFI PART",
            "Revision": u32_at(h, 8)?,
            "HeaderSize": u32_at(h, 12)?,
            "MyLBA": u64_at(h, 24)?,
            "AlternateLBA": u64_at(h, 32)?,
            "FirstUsableLBA": u64_at(h, 40)?,
            "LastUsableLBA": u64_at(h, 48)?,
            "DiskGUID": guid(&h[56..])?,
            "PartitionEntryLBA": u64_at(h, 72)?,
            "NumberOfPartitionEntries": u32_at(h, 80)?,
            "SizeOfPartitionEntry": u32_at(h, 84)?,
        },
        "NumberOfPartitions": count,
        "Partitions": partitions?,
    }))
}

/// The nodes of an EFI device path: type, subtype, and the file path of media file-path nodes.
fn device_path(mut b: &[u8]) -> Value {
    let mut nodes = Vec::new();
    while b.len() >= 4 {
        let (t, sub) = (b[0], b[1]);
        let len = usize::from(u16::from_le_bytes([b[2], b[3]]));
        if len < 4 || len > b.len() {
            break;
        }
        let body = &b[4..len];
        let mut node = json!({"Type": t, "SubType": sub});
        if t == 4
            && sub == 4
            && let Some(path) = utf16(body)
        {
            node["PathName"] = Value::String(path);
        }
        if t == 0x7f && sub == 0xff {
            break;
        }
        nodes.push(node);
        b = &b[len..];
    }
    Value::Array(nodes)
}
