//! Policy and policy-certificate operations (MAA's `/policies` and `/certificates` routes), with
//! the trust model of the provider deciding who may call them.
//!
//! | trust model | reads                          | policy writes                                   | certificate changes                          |
//! |-------------|--------------------------------|-------------------------------------------------|----------------------------------------------|
//! | shared      | anyone                         | refused (`ReadOnlyProvider`)                    | refused                                      |
//! | token       | bearer token, reader role      | bearer token, contributor role (+ a registered signer if certificates exist) | contributor + registered signer (the first certificate signs itself) |
//! | isolated    | anyone (bearer if token auth is configured) | JWS signed by a registered certificate | JWS signed by a registered certificate |

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Instant, SystemTime};

use attestd_evidence::AttestationType;
use attestd_store::{AuditRecord, CertificateRecord, PolicyRecord, ReplayGuard, StoreError};
use serde_json::{Value, json};

use crate::Service;
use crate::error::ServiceError;
use crate::management::auth::Access;
use crate::management::jws::{ManagementJws, Signer, certificate_jwk, thumbprint};
use crate::policy::{ActivePolicy, NO_POLICY_JWS};
use crate::provider::{Provider, TrustModel};
use crate::registry::unix_now;

/// Who is calling a management route.
#[derive(Clone, Copy, Debug, Default)]
pub struct Caller<'a> {
    /// The bearer token of the `Authorization` header, if any.
    pub bearer: Option<&'a str>,
}

fn store_error(e: StoreError) -> ServiceError {
    match e {
        StoreError::Replay(scope) => ServiceError::InvalidParameter {
            code: "ReplayedRequest",
            message: format!(
                "this signed request was applied before ({scope}) and the state has changed since; \
                 sign a new request (e.g. add a 'jti' member to the payload) to apply it again"
            ),
        },
        StoreError::LastCertificate => ServiceError::InvalidParameter {
            code: "InvalidOperation",
            message: "the final policy management certificate cannot be removed".into(),
        },
        StoreError::NotFound(what) => ServiceError::ProviderNotFound(what),
        other => ServiceError::Store(other),
    }
}

impl Service {
    /// Checks that `caller` may read or write `provider`'s policies; returns the actor for the audit.
    async fn authorize(&self, provider: &Provider, caller: Caller<'_>, access: Access) -> Result<String, ServiceError> {
        match provider.trust_model {
            TrustModel::Shared if access == Access::Write => Err(ServiceError::Forbidden {
                code: "ReadOnlyProvider",
                message: format!(
                    "attestation provider '{}' uses the shared trust model: its policies are the built-in defaults and cannot be changed",
                    provider.name
                ),
            }),
            TrustModel::Shared => Ok("anonymous".into()),
            TrustModel::Token => {
                let auth = provider.authenticator.as_ref().ok_or_else(|| ServiceError::Forbidden {
                    code: "NoTokenIssuer",
                    message: format!(
                        "attestation provider '{}' has no token issuer configured; no management call can be authorized",
                        provider.name
                    ),
                })?;
                let principal = auth.authenticate(caller.bearer).await?;
                if principal.access < access {
                    return Err(ServiceError::Forbidden {
                        code: "Forbidden",
                        message: "the bearer token grants read access only; this operation needs the contributor role"
                            .into(),
                    });
                }
                Ok(format!("token:{}", principal.subject))
            }
            TrustModel::Isolated => match &provider.authenticator {
                Some(auth) => {
                    let principal = auth.authenticate(caller.bearer).await?;
                    Ok(format!("token:{}", principal.subject))
                }
                None => Ok("anonymous".into()),
            },
        }
    }

    /// Who may sign a write: on isolated providers (and token providers with registered certificates)
    /// the JWS must be signed by a registered policy management certificate.
    fn check_signer<'a>(
        &self,
        provider: &Provider,
        jws: &'a ManagementJws,
    ) -> Result<Option<&'a Signer>, ServiceError> {
        let required = provider.trust_model == TrustModel::Isolated || !provider.certificates.is_empty();
        match (&jws.signer, required) {
            (None, true) => Err(ServiceError::InvalidParameter {
                code: "UnsignedRequestRejected",
                message: format!(
                    "attestation provider '{}' accepts only requests signed by one of its policy management certificates",
                    provider.name
                ),
            }),
            (None, false) => Ok(None),
            (Some(signer), _) => {
                if required
                    && !signer
                        .thumbprint
                        .as_deref()
                        .is_some_and(|t| provider.has_certificate(t))
                {
                    return Err(ServiceError::Forbidden {
                        code: "SignerNotAuthorized",
                        message: format!(
                            "the request is signed by a certificate ({}) that is not a policy management certificate of '{}'",
                            signer.thumbprint.as_deref().unwrap_or("a bare key"),
                            provider.name
                        ),
                    });
                }
                Ok(Some(signer))
            }
        }
    }

    fn audit(&self, provider: &Provider, operation: &str, actor: &str, t: Option<AttestationType>) -> AuditRecord {
        AuditRecord {
            at: unix_now(),
            provider: provider.name.to_string(),
            kind: "management".into(),
            operation: operation.into(),
            actor: Some(actor.into()),
            attestation_type: t.map(|t| t.to_string()),
            outcome: "success".into(),
            ..AuditRecord::default()
        }
    }

    /// Authorizes a read; a refusal is audited (reads are audited through the batched writer).
    async fn authorize_read(
        &self,
        provider: &Provider,
        caller: Caller<'_>,
        operation: &str,
        t: Option<AttestationType>,
    ) -> Result<String, ServiceError> {
        let started = Instant::now();
        match self.authorize(provider, caller, Access::Read).await {
            Ok(actor) => Ok(actor),
            Err(e) => {
                self.audit_failure(provider, operation, t, started, &e).await;
                Err(e)
            }
        }
    }

    /// Records a refused management call (successful ones are recorded with their change).
    async fn audit_failure(
        &self,
        provider: &Provider,
        operation: &str,
        t: Option<AttestationType>,
        started: Instant,
        error: &ServiceError,
    ) {
        let record = AuditRecord {
            outcome: "failure".into(),
            error_code: Some(error.code().to_owned()),
            duration_us: Some(started.elapsed().as_micros() as i64),
            detail: Some(error.to_string()),
            actor: None,
            ..self.audit(provider, operation, "", t)
        };
        if let Err(e) = self.store().insert_audit(&[record]).await {
            tracing::warn!(error = %e, "could not record a failed management call in the audit log");
        }
    }

    /// `GET /policies/{type}`: the policy as `x-ms-policy` in a signed result token.
    pub async fn get_policy(
        &self,
        provider: &Provider,
        t: AttestationType,
        caller: Caller<'_>,
    ) -> Result<String, ServiceError> {
        let actor = self.authorize_read(provider, caller, "policy.get", Some(t)).await?;
        let mut claims = BTreeMap::new();
        let jws = provider.policy(t).map_or(NO_POLICY_JWS, |p| p.jws.as_str());
        self.audit.record(AuditRecord {
            policy_hash: provider.policy(t).map(|p| p.policy.hash().to_owned()),
            ..self.audit(provider, "policy.get", &actor, Some(t))
        });
        claims.insert("x-ms-policy".to_owned(), Value::from(jws));
        if let Some(signer) = provider.policy(t).and_then(|p| p.signer.clone()) {
            claims.insert("x-ms-policy-signer".to_owned(), signer);
        }
        self.management_token(provider, claims)
    }

    /// `PUT /policies/{type}`: stores the policy in `body` (a JWS) and returns the result token.
    pub async fn set_policy(
        &self,
        provider: &Provider,
        t: AttestationType,
        body: &str,
        caller: Caller<'_>,
    ) -> Result<String, ServiceError> {
        self.audited(
            provider,
            "policy.set",
            Some(t),
            self.set_policy_inner(provider, t, body, caller),
        )
        .await
    }

    async fn set_policy_inner(
        &self,
        provider: &Provider,
        t: AttestationType,
        body: &str,
        caller: Caller<'_>,
    ) -> Result<String, ServiceError> {
        let (actor, jws) = self.authorize_write(provider, caller, body).await?;
        let signer = jws.signer.as_ref();
        let text = jws.policy_text()?;
        // Compiling validates the text; the store keeps it byte-exact.
        let compiled = ActivePolicy::compile(&text, jws.raw.clone(), signer.map(|s| s.jwk.clone()), false)?;
        let scope = format!("set:{t}");
        let guard = signer.map(|_| ReplayGuard {
            scope: &scope,
            token_hash: &jws.token_hash,
        });
        let record = PolicyRecord {
            provider: provider.name.to_string(),
            attestation_type: t.to_string(),
            policy_text: text,
            policy_hash: compiled.policy.hash().to_owned(),
            policy_jws: jws.raw.clone(),
            token_hash: jws.token_hash.clone(),
            signer: signer.and_then(|s| s.certificate.clone()),
            updated_at: unix_now(),
        };
        let mut audit = self.audit(provider, "policy.set", &actor, Some(t));
        audit.detail = Some(format!("token hash {}", jws.token_hash));
        self.store()
            .set_policy(&record, guard, audit)
            .await
            .map_err(store_error)?;
        self.policy_result(provider, "Updated", &jws).await
    }

    /// `POST /policies/{type}:reset`: removes the uploaded policy (the default applies again).
    pub async fn reset_policy(
        &self,
        provider: &Provider,
        t: AttestationType,
        body: &str,
        caller: Caller<'_>,
    ) -> Result<String, ServiceError> {
        self.audited(
            provider,
            "policy.reset",
            Some(t),
            self.reset_policy_inner(provider, t, body, caller),
        )
        .await
    }

    async fn reset_policy_inner(
        &self,
        provider: &Provider,
        t: AttestationType,
        body: &str,
        caller: Caller<'_>,
    ) -> Result<String, ServiceError> {
        let (actor, jws) = self.authorize_write(provider, caller, body).await?;
        let signer = jws.signer.as_ref();
        if jws.payload_object()?.contains_key("AttestationPolicy") {
            return Err(ServiceError::invalid(
                "a reset request carries an empty policy document, not 'AttestationPolicy'",
            ));
        }
        let scope = format!("reset:{t}");
        let guard = signer.map(|_| ReplayGuard {
            scope: &scope,
            token_hash: &jws.token_hash,
        });
        let audit = self.audit(provider, "policy.reset", &actor, Some(t));
        self.store()
            .reset_policy(provider.name.as_str(), t.as_str(), guard, audit)
            .await
            .map_err(store_error)?;
        self.policy_result(provider, "Removed", &jws).await
    }

    /// Runs a write and audits its failure (a success is audited in the write's transaction).
    async fn audited(
        &self,
        provider: &Provider,
        operation: &str,
        t: Option<AttestationType>,
        write: impl Future<Output = Result<String, ServiceError>>,
    ) -> Result<String, ServiceError> {
        let started = Instant::now();
        let result = write.await;
        if let Err(e) = &result {
            self.audit_failure(provider, operation, t, started, e).await;
        }
        result
    }

    /// Authorizes a write and parses its JWS; the actor is the signer's thumbprint when signed.
    async fn authorize_write(
        &self,
        provider: &Provider,
        caller: Caller<'_>,
        body: &str,
    ) -> Result<(String, ManagementJws), ServiceError> {
        let actor = self.authorize(provider, caller, Access::Write).await?;
        let jws = ManagementJws::parse(body, SystemTime::now())?;
        let signer = self.check_signer(provider, &jws)?;
        let actor = signer
            .and_then(|s| s.thumbprint.clone())
            .map_or(actor, |t| format!("cert:{t}"));
        Ok((actor, jws))
    }

    /// MAA's `PolicyResult` token for a stored change (signed with the reloaded provider's key).
    async fn policy_result(
        &self,
        provider: &Provider,
        result: &str,
        jws: &ManagementJws,
    ) -> Result<String, ServiceError> {
        let provider = self.providers().reload(provider.name.as_str()).await?;
        let mut claims = BTreeMap::new();
        claims.insert("x-ms-policy-result".to_owned(), json!(result));
        claims.insert("x-ms-policy-token-hash".to_owned(), json!(jws.token_hash));
        if let Some(s) = &jws.signer {
            claims.insert("x-ms-policy-signer".to_owned(), s.jwk.clone());
        }
        self.management_token(&provider, claims)
    }

    /// `GET /certificates`: the policy management certificates.
    pub async fn get_policy_certificates(
        &self,
        provider: &Provider,
        caller: Caller<'_>,
    ) -> Result<String, ServiceError> {
        let actor = self.authorize_read(provider, caller, "certificates.get", None).await?;
        self.audit
            .record(self.audit(provider, "certificates.get", &actor, None));
        let keys: Vec<Value> = provider
            .certificates
            .iter()
            .map(|c| certificate_jwk(&c.certificate))
            .collect();
        let mut claims = BTreeMap::new();
        claims.insert("x-ms-policy-certificates".to_owned(), json!({ "keys": keys }));
        self.management_token(provider, claims)
    }

    /// `POST /certificates:add` (`add == true`) or `:remove` with the JWS in `jws_text`.
    pub async fn change_policy_certificate(
        &self,
        provider: &Provider,
        add: bool,
        jws_text: &str,
        caller: Caller<'_>,
    ) -> Result<String, ServiceError> {
        let operation = if add { "certificates.add" } else { "certificates.remove" };
        self.audited(
            provider,
            operation,
            None,
            self.change_certificate_inner(provider, add, jws_text, caller, operation),
        )
        .await
    }

    async fn change_certificate_inner(
        &self,
        provider: &Provider,
        add: bool,
        jws_text: &str,
        caller: Caller<'_>,
        operation: &str,
    ) -> Result<String, ServiceError> {
        if provider.trust_model == TrustModel::Shared {
            return Err(ServiceError::Forbidden {
                code: "ReadOnlyProvider",
                message: format!("attestation provider '{}' uses the shared trust model", provider.name),
            });
        }
        let actor = self.authorize(provider, caller, Access::Write).await?;
        let jws = ManagementJws::parse(jws_text, SystemTime::now())?;
        let signer = jws.signer.as_ref().ok_or_else(|| ServiceError::InvalidParameter {
            code: "UnsignedRequestRejected",
            message: "policy management certificate changes must be signed".into(),
        })?;
        let certificate = jws.policy_certificate()?;
        let subject_thumbprint = thumbprint(&certificate);
        let signer_thumbprint = signer.thumbprint.clone().unwrap_or_default();
        // A token provider's first certificate proves possession by signing its own addition.
        let bootstrap = add && provider.certificates.is_empty() && signer_thumbprint == subject_thumbprint;
        if !bootstrap && !provider.has_certificate(&signer_thumbprint) {
            return Err(ServiceError::Forbidden {
                code: "SignerNotAuthorized",
                message: format!(
                    "the request is signed by a certificate ({signer_thumbprint}) that is not a policy management certificate of '{}'",
                    provider.name
                ),
            });
        }
        let scope = if add { "certificates:add" } else { "certificates:remove" };
        let guard = Some(ReplayGuard {
            scope,
            token_hash: &jws.token_hash,
        });
        let actor = if actor == "anonymous" {
            format!("cert:{signer_thumbprint}")
        } else {
            format!("{actor} cert:{signer_thumbprint}")
        };
        let mut audit = self.audit(provider, operation, &actor, None);
        audit.detail = Some(format!("certificate {subject_thumbprint}"));
        if add {
            let record = CertificateRecord {
                provider: provider.name.to_string(),
                thumbprint: subject_thumbprint.clone(),
                certificate,
                added_at: unix_now(),
            };
            self.store()
                .add_policy_certificate(&record, guard, audit)
                .await
                .map_err(store_error)?;
        } else {
            self.store()
                .remove_policy_certificate(provider.name.as_str(), &subject_thumbprint, guard, audit)
                .await
                .map_err(store_error)?;
        }
        let provider = self.providers().reload(provider.name.as_str()).await?;
        let mut claims = BTreeMap::new();
        claims.insert("x-ms-certificate-thumbprint".to_owned(), json!(subject_thumbprint));
        claims.insert(
            "x-ms-policycertificates-result".to_owned(),
            json!(if add { "IsPresent" } else { "IsAbsent" }),
        );
        self.management_token(&provider, claims)
    }
}
