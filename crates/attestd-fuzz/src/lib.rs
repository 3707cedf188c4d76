//! Mutation fuzzing of the binary parsers on stable Rust (no nightly toolchain for libFuzzer):
//! real inputs from the shared vectors are mutated (bit flips, byte sets, truncations, splices,
//! duplicated and deleted ranges, and overwritten 16/32-bit length fields, which is where
//! parsers of TCG and DCAP structures go wrong) and fed to each target under `catch_unwind`.
//! A panic is a finding: the input is saved and reported.
//!
//! `cargo run --release -p attestd-fuzz -- TARGET SECONDS` runs one target (`eventlog`,
//! `dcap-quote`, `snp-report`, `hcl-report`, or `all`).
#![forbid(unsafe_code)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A parser under test: it must return (anything) or fail cleanly, never panic.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    /// The name on the command line.
    pub name: &'static str,
    /// Seed inputs, relative to the vectors folder (`.hex` files are hex text).
    pub seeds: &'static [&'static str],
    /// Runs the parser (and what consumes its result) on one input.
    pub run: fn(&[u8]),
}

fn eventlog(data: &[u8]) {
    if let Ok(log) = attestd_tpm::eventlog::EventLog::parse(data) {
        let _ = log.replay();
        let _ = log.to_claim();
    }
}

fn dcap_quote(data: &[u8]) {
    if let Ok(q) = attestd_dcap::quote::Quote::parse(data) {
        let _ = q.pck_chain().map(|c| c.len());
        let _ = q.body().report_data();
    }
}

fn snp_report(data: &[u8]) {
    if let Ok(r) = attestd_snp::AttestationReport::parse(data) {
        let _ = r.cpuid_generation();
    }
}

fn hcl_report(data: &[u8]) {
    if let Ok(h) = attestd_azure_guest::HclReport::parse(data) {
        let _ = h.report_data();
        if let Ok(rt) = h.runtime_data() {
            let _ = rt.attestation_key();
        }
    }
}

/// Every target.
pub const TARGETS: &[Target] = &[
    Target {
        name: "eventlog",
        seeds: &[
            "tpm/keylime/binary_bios_measurements",
            "tpm/keylime/binary_bios_measurements-secureboot",
            "tpm/go-tpm-tools/eventlogs/arch-linux-workstation.bin",
            "tpm/go-tpm-tools/eventlogs/debian-10.bin",
            "tpm/go-tpm-tools/eventlogs/rhel8-uefi.bin",
            "tpm/go-tpm-tools/eventlogs/ubuntu-2404-amd-sevsnp.bin",
            "tpm/go-tpm-tools/eventlogs/eventlogwithsp800155.bin",
        ],
        run: eventlog,
    },
    Target {
        name: "dcap-quote",
        seeds: &[
            "sgx-dcap/dcap-qvl/sgx_quote",
            "sgx-dcap/trustee/occlum_quote.dat",
            "tdx/dcap-qvl/tdx_quote",
            "tdx/dcap-qvl/tdx_quote_outdated",
            "tdx/trustee/tdx_quote_5.dat",
        ],
        run: dcap_quote,
    },
    Target {
        name: "snp-report",
        seeds: &["sev-snp/trustee/test-report.bin"],
        run: snp_report,
    },
    Target {
        name: "hcl-report",
        seeds: &[
            "azure-cvm/trustee-az-snp/hcl-report.bin",
            "azure-cvm/kinvolk-azure-cvm-tooling/hcl-report-tdx.bin",
        ],
        run: hcl_report,
    },
];

/// xorshift64*: fast and reproducible (the seed is printed with every finding).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (0 is replaced).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

/// Interesting values for overwritten length and count fields.
const EDGES: [u32; 9] = [0, 1, 2, 0x7f, 0xff, 0x100, 0xffff, 0x7fff_ffff, 0xffff_ffff];

/// One to four mutations of `seed`.
pub fn mutate(seed: &[u8], other: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut d = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let len = d.len();
        match rng.below(8) {
            0 if len > 0 => {
                let at = rng.below(len);
                d[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = rng.below(len);
                d[at] = rng.next() as u8;
            }
            2 => d.truncate(rng.below(len + 1)),
            3 if len >= 4 => {
                let at = rng.below(len - 3);
                let v = EDGES[rng.below(EDGES.len())].to_le_bytes();
                d[at..at + 4].copy_from_slice(&v);
            }
            4 if len >= 2 => {
                let at = rng.below(len - 1);
                let v = (EDGES[rng.below(EDGES.len())] as u16).to_be_bytes();
                d[at..at + 2].copy_from_slice(&v);
            }
            5 if len > 0 => {
                // Duplicate a range.
                let a = rng.below(len);
                let b = (a + rng.below(256)).min(len);
                let chunk = d[a..b].to_vec();
                let at = rng.below(len + 1);
                d.splice(at..at, chunk);
            }
            6 if len > 0 => {
                // Delete a range.
                let a = rng.below(len);
                let b = (a + rng.below(256)).min(len);
                d.drain(a..b);
            }
            _ if !other.is_empty() => {
                // Splice in a piece of another seed.
                let a = rng.below(other.len());
                let b = (a + rng.below(512)).min(other.len());
                let at = rng.below(len + 1);
                let end = (at + (b - a)).min(len);
                d.splice(at..end, other[a..b].iter().copied());
            }
            _ => {}
        }
    }
    d
}

/// Reads a seed (hex text for `.hex`).
pub fn read_seed(vectors: &Path, rel: &str) -> std::io::Result<Vec<u8>> {
    let bytes = std::fs::read(vectors.join(rel))?;
    if rel.ends_with(".hex") {
        let text = String::from_utf8_lossy(&bytes);
        let text = text.trim();
        return hex::decode(text.strip_prefix("0x").unwrap_or(text))
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e));
    }
    Ok(bytes)
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Report {
    /// Inputs executed.
    pub executions: u64,
    /// Inputs that panicked, saved under these paths.
    pub findings: Vec<PathBuf>,
}

/// Runs `target` for `duration` with `seed`, saving panicking inputs under `out`.
pub fn fuzz(target: &Target, vectors: &Path, duration: Duration, seed: u64, out: &Path) -> std::io::Result<Report> {
    let seeds: Vec<Vec<u8>> = target
        .seeds
        .iter()
        .map(|s| read_seed(vectors, s))
        .collect::<Result<_, _>>()?;
    let mut rng = Rng::new(seed);
    let mut report = Report::default();
    let start = Instant::now();
    while start.elapsed() < duration {
        for _ in 0..256 {
            let base = &seeds[rng.below(seeds.len())];
            let other = &seeds[rng.below(seeds.len())];
            let input = mutate(base, other, &mut rng);
            report.executions += 1;
            if catch_unwind(AssertUnwindSafe(|| (target.run)(&input))).is_err() {
                std::fs::create_dir_all(out)?;
                let path = out.join(format!("{}-{}-{}.bin", target.name, seed, report.executions));
                std::fs::write(&path, &input)?;
                report.findings.push(path);
            }
        }
    }
    Ok(report)
}
