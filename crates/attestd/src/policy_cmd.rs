//! `attestd policy`: offline work on policy files — check, evaluate against claims, wrap as JWS.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use attestd_evidence::{Claim, ClaimIssuer, ClaimSet, ClaimValue};
use attestd_policy::Policy;
use attestd_token::{Algorithm, SigningKey, b64};
use clap::Subcommand;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};

/// `attestd policy …`
#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Parse and compile a policy file: exit 0 when valid (warnings on stderr), 1 with the error.
    Check {
        /// The policy text file.
        file: PathBuf,
    },
    /// Evaluate a policy against incoming claims: prints every rule's outcome, then the verdict
    /// and the outgoing and property claims as JSON. Exit 0 when permitted, 1 otherwise.
    Eval {
        /// The policy text file.
        #[arg(long)]
        policy: PathBuf,
        /// Incoming claims: a JSON object of name → value (e.g. a decoded MAA token), or an array
        /// of {"type", "value", "issuer"?} objects.
        #[arg(long)]
        claims: PathBuf,
    },
    /// Print the policy as MAA's policy JWS for `PUT /policies/{type}`: unsigned (`alg: none`),
    /// or signed with --key and --cert (the certificate goes into the `x5c` header).
    Jws {
        /// The policy text file.
        file: PathBuf,
        /// PKCS#8 PEM private key of a policy management certificate (RSA → RS256, P-256 → ES256,
        /// P-384 → ES384).
        #[arg(long, requires = "cert")]
        key: Option<PathBuf>,
        /// PEM certificate of that key.
        #[arg(long, requires = "key")]
        cert: Option<PathBuf>,
    },
}

/// Runs a policy command.
pub fn run(cmd: PolicyCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PolicyCommand::Check { file } => {
            let text = read(&file)?;
            match Policy::compile(&text) {
                Ok(c) => {
                    for w in &c.warnings {
                        eprintln!("{}: {w}", file.display());
                    }
                    println!(
                        "{}: valid policy, version {}, x-ms-policy-hash {}",
                        file.display(),
                        c.policy.version().as_str(),
                        c.policy.hash()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("{}: {}: {e}", file.display(), e.code());
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        PolicyCommand::Eval { policy, claims } => eval(&policy, &claims),
        PolicyCommand::Jws { file, key, cert } => {
            let text = read(&file)?;
            if let Err(e) = Policy::compile(&text) {
                eprintln!("{}: {}: {e}", file.display(), e.code());
                return Ok(ExitCode::FAILURE);
            }
            let payload = json!({ "AttestationPolicy": b64::encode_url(text.as_bytes()) }).to_string();
            let jws = match (key, cert) {
                (Some(key), Some(cert)) => signed_jws(&payload, &key, &cert)?,
                _ => format!("eyJhbGciOiJub25lIn0.{}.", b64::encode_url(payload.as_bytes())),
            };
            println!("{jws}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn eval(policy_path: &Path, claims_path: &Path) -> anyhow::Result<ExitCode> {
    let text = read(policy_path)?;
    let policy = match Policy::compile(&text) {
        Ok(c) => c.policy,
        Err(e) => {
            eprintln!("{}: {}: {e}", policy_path.display(), e.code());
            return Ok(ExitCode::FAILURE);
        }
    };
    let raw: Value =
        serde_json::from_str(&read(claims_path)?).with_context(|| format!("{} is not JSON", claims_path.display()))?;
    let incoming = claims_from_json(raw).with_context(|| format!("reading claims from {}", claims_path.display()))?;
    let (result, trace) = policy.evaluate_traced(&incoming);
    for t in &trace {
        let mark = if t.fired { "fired  " } else { "skipped" };
        println!("{mark} {}", t.rule);
        for (name, value) in &t.added {
            println!("          + {name} = {}", value.to_json());
        }
    }
    match result {
        Ok(e) => {
            let out = json!({
                "verdict": "permit",
                "x-ms-policy-hash": policy.hash(),
                "issued": Value::Object(e.issued.to_json_object()),
                "properties": Value::Object(e.properties.to_json_object()),
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let out = json!({ "verdict": "deny", "code": e.code(), "message": e.to_string() });
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Claims from JSON: `{"name": value, …}` or `[{"type", "value", "issuer"?}, …]`.
fn claims_from_json(raw: Value) -> anyhow::Result<ClaimSet> {
    let mut set = ClaimSet::new();
    let mut push = |name: String, value: Value, issuer: ClaimIssuer| -> anyhow::Result<()> {
        let value = match value {
            Value::Number(n) => ClaimValue::Integer(
                n.as_i64()
                    .with_context(|| format!("claim {name}: {n} is not an integer"))?,
            ),
            Value::Null => bail!("claim {name} is null"),
            v @ (Value::Array(_) | Value::Object(_)) => ClaimValue::Json(Arc::new(v)),
            Value::Bool(b) => ClaimValue::Bool(b),
            Value::String(s) => ClaimValue::String(s.into()),
        };
        set.push(Claim {
            name: name.into(),
            value,
            issuer,
        });
        Ok(())
    };
    match raw {
        Value::Object(map) => {
            for (name, value) in map {
                push(name, value, ClaimIssuer::AttestationService)?;
            }
        }
        Value::Array(items) => {
            for (i, item) in items.into_iter().enumerate() {
                let Value::Object(mut o) = item else {
                    bail!("item {i} is not an object")
                };
                let Some(Value::String(name)) = o.remove("type") else {
                    bail!("item {i} has no string \"type\"")
                };
                let value = o
                    .remove("value")
                    .with_context(|| format!("item {i} has no \"value\""))?;
                let issuer = match o.remove("issuer") {
                    None => ClaimIssuer::AttestationService,
                    Some(Value::String(s)) => {
                        ClaimIssuer::parse(&s).with_context(|| format!("item {i}: unknown issuer {s:?}"))?
                    }
                    Some(other) => bail!("item {i}: issuer {other} is not a string"),
                };
                push(name, value, issuer)?;
            }
        }
        other => bail!("expected an object or an array of claims, found {other}"),
    }
    Ok(set)
}

fn signed_jws(payload: &str, key_path: &Path, cert_path: &Path) -> anyhow::Result<String> {
    let key_der = PrivatePkcs8KeyDer::from_pem_file(key_path)
        .with_context(|| format!("{} is not a PKCS#8 PEM private key", key_path.display()))?;
    let cert = CertificateDer::from_pem_file(cert_path)
        .with_context(|| format!("{} is not a PEM certificate", cert_path.display()))?;
    let key = [Algorithm::RS256, Algorithm::ES256, Algorithm::ES384]
        .into_iter()
        .find_map(|alg| SigningKey::from_pkcs8(alg, key_der.secret_pkcs8_der()).ok())
        .context("the key is neither RSA, P-256 nor P-384")?;
    let header = json!({ "alg": key.algorithm().as_str(), "x5c": [b64::encode_std(cert.as_ref())] }).to_string();
    let signing_input = format!(
        "{}.{}",
        b64::encode_url(header.as_bytes()),
        b64::encode_url(payload.as_bytes())
    );
    let signature = key.sign(signing_input.as_bytes()).context("signing")?;
    Ok(format!("{signing_input}.{}", b64::encode_url(&signature)))
}
