//! Intel DCAP: quote parsing (SGX v3/v4, TDX v4/v5), PCK certificates, collateral and TCB evaluation
#![forbid(unsafe_code)]
