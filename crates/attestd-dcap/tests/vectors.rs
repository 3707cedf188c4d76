//! The SGX and TDX cases of the shared vector catalog (CATALOG.md sections 2 and 3).
#![allow(clippy::unwrap_used)]

use attestd_dcap::quote::{Quote, QuoteVersion, TeeType};

mod common;
use common::read;

#[test]
fn parses_every_quote() {
    for path in [
        "sgx-dcap/dcap-qvl/sgx_quote",
        "sgx-dcap/automata-dcap-attestation/sgx_v3_quote_0825.bin",
        "sgx-dcap/dcap-rs/sgx_v3_quote.hex",
        "sgx-dcap/trustee/occlum_quote.dat",
        "azure-sdk/py-sdk-1.0.0/sgx_quote.bin",
        "azure-sdk/cpp-sdk/sgx_quote_debug.bin",
        "azure-sdk/cpp-sdk/sgx_quote_nondebug.bin",
        "tdx/dcap-qvl/tdx_quote",
        "tdx/dcap-qvl/tdx_quote_outdated",
        "tdx/dcap-qvl/near_quote_hex.txt",
        "tdx/dcap-qvl/quote-from-tappd.hex",
        "tdx/dcap-qvl/tdx-quote.hex",
        "tdx/dcap-rs/quote_tdx_00806f050000.dat",
        "tdx/automata-dcap-attestation/alibaba_quote_5.dat",
        "tdx/trustee/tdx_quote_4.dat",
        "tdx/trustee/tdx_quote_5.dat",
        "tdx/trustee/tdx_quote_6.dat",
    ] {
        let bytes = read(path);
        let q = Quote::parse(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
        println!(
            "{path}: {:?} {:?} body {:?} padding {} chain {} tee_tcb_svn {:?}",
            q.version(),
            q.tee_type(),
            std::mem::discriminant(q.body()),
            q.padding_len(),
            q.pck_chain().map(|c| c.len()).unwrap_or(0),
            q.body().as_td().map(|t| hex::encode(t.tee_tcb_svn()))
        );
        let _ = (QuoteVersion::V3, TeeType::Sgx);
    }
}
