//! AMD EPYC processor generations with SEV-SNP, and how each encodes a TCB_VERSION.

use std::fmt;

/// An EPYC generation that has its own AMD root key (ARK) and TCB_VERSION layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Generation {
    /// 3rd generation EPYC (Zen 3, family 19h models 00h–0Fh).
    Milan,
    /// 4th generation EPYC: Genoa, Bergamo, Siena (Zen 4, family 19h models 10h–1Fh, A0h–AFh).
    Genoa,
    /// 5th generation EPYC (Zen 5, family 1Ah models 00h–1Fh).
    Turin,
}

impl Generation {
    /// Every generation, oldest first.
    pub const ALL: [Generation; 3] = [Generation::Milan, Generation::Genoa, Generation::Turin];

    /// The name AMD uses in certificate names and KDS URLs (`Milan`, `Genoa`, `Turin`).
    pub fn as_str(self) -> &'static str {
        match self {
            Generation::Milan => "Milan",
            Generation::Genoa => "Genoa",
            Generation::Turin => "Turin",
        }
    }

    /// The generation of an AMD name (exact spelling, as in `SEV-Milan` or `ARK-Genoa`).
    pub fn from_name(name: &str) -> Option<Generation> {
        Generation::ALL.into_iter().find(|g| g.as_str() == name)
    }

    /// The generation of a VCEK/VLEK `productName` extension: `Milan-B0`, `Genoa`, `Turin`
    /// (a stepping suffix after `-` is allowed).
    pub fn from_product_name(product: &str) -> Option<Generation> {
        let family = product.split('-').next().unwrap_or(product);
        Generation::from_name(family)
    }

    /// The generation of the CPUID family and model a version 3+ report carries, `None` for a
    /// processor that has no SEV-SNP root here.
    pub fn from_cpuid(family: u8, model: u8) -> Option<Generation> {
        match (family, model) {
            (0x19, 0x00..=0x0f) => Some(Generation::Milan),
            (0x19, 0x10..=0x1f | 0xa0..=0xaf) => Some(Generation::Genoa),
            (0x1a, 0x00..=0x1f) => Some(Generation::Turin),
            _ => None,
        }
    }

    /// Whether this generation's TCB_VERSION carries a firmware (FMC) SPL and its VCEK hwID is
    /// the 8-byte chip id prefix.
    pub fn has_fmc(self) -> bool {
        matches!(self, Generation::Turin)
    }

    /// The length of the VCEK hwID extension: the whole 64-byte CHIP_ID before Turin, its first
    /// 8 bytes from Turin on.
    pub fn hw_id_len(self) -> usize {
        if self.has_fmc() { 8 } else { 64 }
    }
}

impl fmt::Display for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A raw 8-byte TCB_VERSION as it appears in a report; its meaning depends on the generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TcbVersion(pub [u8; 8]);

impl TcbVersion {
    /// The little-endian 64-bit value (the form AMD's KDS takes in URLs per component).
    pub fn as_u64(self) -> u64 {
        u64::from_le_bytes(self.0)
    }

    /// The security patch levels, decoded with `generation`'s layout: Milan and Genoa put the
    /// bootloader, TEE, SNP and microcode SPLs in bytes 0, 1, 6, 7; Turin puts FMC, bootloader,
    /// TEE, SNP in bytes 0–3 and microcode in byte 7.
    pub fn levels(self, generation: Generation) -> TcbLevels {
        let b = self.0;
        if generation.has_fmc() {
            TcbLevels {
                fmc: Some(b[0]),
                bootloader: b[1],
                tee: b[2],
                snp: b[3],
                microcode: b[7],
            }
        } else {
            TcbLevels {
                fmc: None,
                bootloader: b[0],
                tee: b[1],
                snp: b[6],
                microcode: b[7],
            }
        }
    }
}

/// Decoded security patch levels of one TCB.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TcbLevels {
    /// Firmware (FMC) SPL; Turin and later only.
    pub fmc: Option<u8>,
    /// Bootloader SPL.
    pub bootloader: u8,
    /// PSP OS (TEE) SPL.
    pub tee: u8,
    /// SNP firmware SPL.
    pub snp: u8,
    /// Microcode SPL.
    pub microcode: u8,
}

impl fmt::Display for TcbLevels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(fmc) = self.fmc {
            write!(f, "fmc {fmc} ")?;
        }
        write!(
            f,
            "bootloader {} tee {} snp {} microcode {}",
            self.bootloader, self.tee, self.snp, self.microcode
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tcb_layout_differs_per_generation() {
        let t = TcbVersion([1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(
            t.levels(Generation::Milan),
            TcbLevels {
                fmc: None,
                bootloader: 1,
                tee: 2,
                snp: 7,
                microcode: 8
            }
        );
        assert_eq!(t.levels(Generation::Genoa), t.levels(Generation::Milan));
        assert_eq!(
            t.levels(Generation::Turin),
            TcbLevels {
                fmc: Some(1),
                bootloader: 2,
                tee: 3,
                snp: 4,
                microcode: 8
            }
        );
        assert_eq!(t.as_u64(), 0x0807_0605_0403_0201);
    }

    #[test]
    fn names_and_cpuid() {
        assert_eq!(Generation::from_product_name("Milan-B0"), Some(Generation::Milan));
        assert_eq!(Generation::from_product_name("Genoa"), Some(Generation::Genoa));
        assert_eq!(Generation::from_product_name("Turin"), Some(Generation::Turin));
        assert_eq!(Generation::from_product_name("Rome-B0"), None);
        assert_eq!(Generation::from_product_name(""), None);
        assert_eq!(Generation::from_cpuid(0x19, 0x01), Some(Generation::Milan));
        assert_eq!(Generation::from_cpuid(0x19, 0x11), Some(Generation::Genoa));
        assert_eq!(Generation::from_cpuid(0x19, 0xa0), Some(Generation::Genoa));
        assert_eq!(Generation::from_cpuid(0x1a, 0x02), Some(Generation::Turin));
        assert_eq!(Generation::from_cpuid(0x17, 0x31), None);
        assert_eq!(Generation::Turin.hw_id_len(), 8);
        assert_eq!(Generation::Genoa.hw_id_len(), 64);
    }
}
