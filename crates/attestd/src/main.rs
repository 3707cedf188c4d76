//! `attestd`: the attestation service and its command-line tools.

#![forbid(unsafe_code)]

mod attesters_cmd;
mod audit_cmd;
mod collateral_cmd;
mod config;
mod policy_cmd;
mod provider_cmd;
mod serve;
mod state;
mod token_cmd;
mod tpm_cmd;
mod verify_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

// mimalloc: the request path allocates many small, short-lived buffers (JSON, base64, claims);
// measured in docs/performance.md against the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// An MAA-compatible remote attestation service.
#[derive(Parser, Debug)]
#[command(name = "attestd", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the service (HTTPS on 127.0.0.1:8443, state in ./attestd-data by default).
    Serve {
        #[command(flatten)]
        state: config::StateArgs,
        #[command(flatten)]
        serve: config::ServeArgs,
    },
    /// Work with attestation tokens.
    #[command(subcommand)]
    Token(token_cmd::TokenCommand),
    /// Manage attestation providers (tenants) in the service's state.
    #[command(subcommand)]
    Provider(provider_cmd::ProviderCommand),
    /// Check, evaluate and sign policy files, offline.
    #[command(subcommand)]
    Policy(policy_cmd::PolicyCommand),
    /// Query the audit log (management operations and attestations).
    Audit(audit_cmd::AuditArgs),
    /// The machines that attested (e.g. TPM AIKs): last verdict, boot-measurement baseline, history and alerts.
    #[command(subcommand)]
    Attesters(attesters_cmd::AttestersCommand),
    /// Manage DCAP collateral (SGX TCB info, QE identity, CRLs) in the service's state.
    #[command(subcommand)]
    Collateral(collateral_cmd::CollateralCommand),
    /// Verify evidence offline (SGX, Open Enclave, TDX, SEV-SNP, Azure CVM guest) and print its claims.
    Verify(verify_cmd::VerifyArgs),
    /// TPM attester: run MAA's TPM protocol against a server with a TPM.
    #[command(subcommand)]
    Tpm(tpm_cmd::TpmCommand),
    /// Manage the master key that seals private keys at rest.
    #[command(subcommand, name = "master-key")]
    MasterKey(MasterKeyCommand),
}

#[derive(Subcommand, Debug)]
enum MasterKeyCommand {
    /// Print a new random master key (base64); store it in a file for --master-key-file or in
    /// ATTESTD_MASTER_KEY.
    Generate,
}

/// The async runtime with `workers` threads (default: one per CPU this process may use, which
/// honours affinity and cgroup CPU quotas). One worker gets the single-threaded runtime: on one
/// CPU the multi-threaded scheduler's work stealing and cross-thread wake-ups are pure cost
/// (about 30 µs of 230 µs per SGX attestation, docs/performance.md).
fn runtime(workers: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    let workers = workers
        .filter(|n| *n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    if workers == 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
    }
}

fn main() -> ExitCode {
    // One crypto provider for rustls everywhere (server, collateral fetches, the CLI's client).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = Cli::parse();
    let workers = match &cli.command {
        Command::Serve { serve, .. } => serve.worker_threads,
        _ => None,
    };
    let runtime = match runtime(workers) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve { state, serve } => serve::run(&state, &serve).await,
            Command::Token(cmd) => token_cmd::run(cmd).await,
            Command::Provider(cmd) => provider_cmd::run(cmd).await,
            Command::Audit(args) => audit_cmd::run(args).await,
            Command::Attesters(cmd) => attesters_cmd::run(cmd).await,
            Command::Policy(cmd) => policy_cmd::run(cmd),
            Command::Collateral(cmd) => collateral_cmd::run(cmd).await,
            Command::Verify(args) => verify_cmd::run(args).await,
            Command::Tpm(cmd) => tpm_cmd::run(cmd).await,
            Command::MasterKey(MasterKeyCommand::Generate) => {
                println!("{}", attestd_service::MasterKey::generate_base64()?);
                Ok(ExitCode::SUCCESS)
            }
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
