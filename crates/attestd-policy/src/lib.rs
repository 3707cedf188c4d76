//! MAA's attestation policy language: parser, compiler and evaluator
#![forbid(unsafe_code)]
