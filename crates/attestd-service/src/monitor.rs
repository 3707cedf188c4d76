//! Attester monitoring (Trusted Launch boot-integrity monitoring): the service remembers, per
//! provider and attester (a TPM's attestation key), the verdict and measurements of its
//! attestations, and raises an alert when an attester that attested successfully fails, or when
//! its measurements differ from its last successful attestation.
//!
//! Like the audit trail, nothing here runs on the request path: observations go through a bounded
//! channel to one task that reads the attester's last state from the store (so every node of a
//! cluster judges against the same history), writes the new state and history entry in one
//! transaction, and emits the alert: a structured log event (target `attestd::alert`), the
//! `attestd_attester_alerts_total` counter and, when the provider set one, a webhook POST.

use std::collections::BTreeMap;
use std::time::Duration;

use attestd_evidence::AttestationType;
use attestd_store::{AttesterEvent, AttesterRecord, Store};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

/// One attestation of an identified attester, as the monitor learns it.
#[derive(Clone, Debug)]
pub(crate) struct Observation {
    pub provider: String,
    pub webhook: Option<String>,
    pub attestation_type: AttestationType,
    pub attester_id: String,
    pub at: i64,
    /// The measurements, when verification got far enough to have them.
    pub measurements: Option<BTreeMap<String, String>>,
    /// The error code of a failed attestation; `None` for a token issued.
    pub error_code: Option<String>,
}

/// Why an attestation raised an alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertKind {
    /// An attester whose last attestation succeeded now failed (repeated failures alert once).
    AttestationFailed,
    /// A successful attestation whose measurements differ from the attester's last successful one.
    MeasurementsChanged,
}

impl AlertKind {
    /// The stable name used in logs, metrics, webhooks and the history.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::AttestationFailed => "AttestationFailed",
            AlertKind::MeasurementsChanged => "MeasurementsChanged",
        }
    }
}

/// An alert about one attester.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Alert {
    pub kind: AlertKind,
    /// Names of the measurements that changed (for `MeasurementsChanged`).
    pub changed: Vec<String>,
    /// The baseline the attestation was compared with.
    pub previous: Option<BTreeMap<String, String>>,
    /// When the previous successful attestation happened.
    pub previous_success_at: Option<i64>,
}

/// The new state of an attester, its history entry and the alert (if any) after `obs`.
/// Pure, so that the rules are unit-tested apart from the store.
pub(crate) fn judge(
    prev: Option<&AttesterRecord>,
    obs: &Observation,
) -> (AttesterRecord, AttesterEvent, Option<Alert>) {
    let measurements_json = obs.measurements.as_ref().map(|m| json!(m).to_string());
    let baseline: Option<BTreeMap<String, String>> = prev
        .and_then(|p| p.baseline.as_deref())
        .and_then(|b| serde_json::from_str(b).ok());
    let success = obs.error_code.is_none();
    let mut state = prev.cloned().unwrap_or_else(|| AttesterRecord {
        provider: obs.provider.clone(),
        attestation_type: obs.attestation_type.to_string(),
        attester_id: obs.attester_id.clone(),
        first_seen: obs.at,
        ..AttesterRecord::default()
    });
    state.last_seen = obs.at;
    state.last_outcome = if success { "success" } else { "failure" }.into();
    state.last_error_code = obs.error_code.clone();

    let mut alert = None;
    if success {
        state.successes += 1;
        if let (Some(old), Some(new)) = (&baseline, &obs.measurements) {
            let changed = changed_names(old, new);
            if !changed.is_empty() {
                alert = Some(Alert {
                    kind: AlertKind::MeasurementsChanged,
                    changed,
                    previous: baseline.clone(),
                    previous_success_at: state.baseline_at,
                });
            }
        }
        if obs.measurements.is_some() {
            state.baseline = measurements_json.clone();
            state.baseline_at = Some(obs.at);
        }
    } else {
        state.failures += 1;
        if prev.is_some_and(|p| p.last_outcome == "success") {
            alert = Some(Alert {
                kind: AlertKind::AttestationFailed,
                changed: match (&baseline, &obs.measurements) {
                    (Some(old), Some(new)) => changed_names(old, new),
                    _ => Vec::new(),
                },
                previous: baseline.clone(),
                previous_success_at: prev.and_then(|p| p.baseline_at),
            });
        }
    }
    let event = AttesterEvent {
        id: 0,
        provider: obs.provider.clone(),
        attestation_type: obs.attestation_type.to_string(),
        attester_id: obs.attester_id.clone(),
        at: obs.at,
        outcome: state.last_outcome.clone(),
        error_code: obs.error_code.clone(),
        measurements: measurements_json,
        alert: alert.as_ref().map(|a| a.kind.as_str().to_owned()),
        detail: alert
            .as_ref()
            .filter(|a| !a.changed.is_empty())
            .map(|a| format!("changed: {}", a.changed.join(", "))),
    };
    (state, event, alert)
}

/// Names present in either map whose values differ (or that only one of them has).
fn changed_names(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> Vec<String> {
    let mut names: Vec<String> = old
        .iter()
        .filter(|(k, v)| new.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .chain(new.keys().filter(|k| !old.contains_key(*k)).cloned())
        .collect();
    names.sort();
    names
}

/// The alert as JSON: what the webhook receives and the log event carries.
fn alert_json(obs: &Observation, alert: &Alert) -> Value {
    json!({
        "alert": alert.kind.as_str(),
        "provider": obs.provider,
        "attestationType": obs.attestation_type.as_str(),
        "attesterId": obs.attester_id,
        "at": obs.at,
        "errorCode": obs.error_code,
        "changed": alert.changed,
        "previous": alert.previous,
        "current": obs.measurements,
        "previousSuccessAt": alert.previous_success_at,
    })
}

enum Message {
    Observe(Box<Observation>),
    Flush(oneshot::Sender<()>),
}

const CAPACITY: usize = 4096;
/// Webhook deliveries are tried this many times, 1 s then 2 s apart.
const WEBHOOK_ATTEMPTS: u32 = 3;
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);

/// The sending side of the monitor; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Monitor {
    tx: mpsc::Sender<Message>,
}

impl Monitor {
    /// Starts the monitor task on the current tokio runtime.
    pub(crate) fn start(store: Store) -> Monitor {
        let (tx, mut rx) = mpsc::channel::<Message>(CAPACITY);
        // reqwest is built without a default TLS provider; a second install is a harmless no-op.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(WEBHOOK_TIMEOUT)
            .user_agent(concat!("attestd/", env!("CARGO_PKG_VERSION")))
            .build()
            .ok();
        tokio::spawn(async move {
            while let Some(message) = rx.recv().await {
                match message {
                    Message::Observe(obs) => observe(&store, http.as_ref(), &obs).await,
                    Message::Flush(ack) => {
                        let _ = ack.send(());
                    }
                }
            }
        });
        Monitor { tx }
    }

    /// Queues an observation; if the monitor is far behind, it is dropped and counted.
    pub(crate) fn observe(&self, obs: Observation) {
        if self.tx.try_send(Message::Observe(Box::new(obs))).is_err() {
            metrics::counter!("attestd_attester_observations_dropped_total").increment(1);
        }
    }

    /// Waits until every observation queued before this call is judged and written (webhook
    /// deliveries may still be under way).
    pub(crate) async fn flush(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Message::Flush(ack)).await.is_ok() {
            let _ = done.await;
        }
    }
}

async fn observe(store: &Store, http: Option<&reqwest::Client>, obs: &Observation) {
    let t = obs.attestation_type.to_string();
    let prev = match store.attester(&obs.provider, &t, &obs.attester_id).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, attester = %obs.attester_id, "could not read the attester's history");
            metrics::counter!("attestd_attester_observations_dropped_total").increment(1);
            return;
        }
    };
    // A failure names its attester without proof (anyone can claim an AIK): it is recorded only
    // for attesters that are already known, so that forged requests cannot fill the table.
    if prev.is_none() && obs.error_code.is_some() {
        return;
    }
    let (state, event, alert) = judge(prev.as_ref(), obs);
    if let Err(e) = store.save_attester(&state, &event).await {
        tracing::warn!(error = %e, attester = %obs.attester_id, "could not record the attestation in the attester's history");
        metrics::counter!("attestd_attester_observations_dropped_total").increment(1);
    }
    let Some(alert) = alert else { return };
    let body = alert_json(obs, &alert);
    tracing::warn!(
        target: "attestd::alert",
        alert = alert.kind.as_str(),
        provider = %obs.provider,
        attestation_type = obs.attestation_type.as_str(),
        attester = %obs.attester_id,
        error_code = obs.error_code.as_deref().unwrap_or(""),
        changed = %alert.changed.join(","),
        "attester alert: {}",
        body
    );
    metrics::counter!(
        "attestd_attester_alerts_total",
        "provider" => obs.provider.clone(),
        "type" => obs.attestation_type.as_str(),
        "alert" => alert.kind.as_str()
    )
    .increment(1);
    if let (Some(url), Some(http)) = (&obs.webhook, http) {
        // Delivered in its own task so that a slow receiver does not hold up the next judgement.
        let (url, http) = (url.clone(), http.clone());
        tokio::spawn(async move { deliver(&http, &url, &body).await });
    }
}

async fn deliver(http: &reqwest::Client, url: &str, body: &Value) {
    for attempt in 1..=WEBHOOK_ATTEMPTS {
        match http.post(url).json(body).send().await {
            Ok(r) if r.status().is_success() => {
                metrics::counter!("attestd_alert_webhook_deliveries_total", "outcome" => "success").increment(1);
                return;
            }
            Ok(r) => tracing::warn!(url, status = %r.status(), attempt, "the alert webhook refused the alert"),
            Err(e) => tracing::warn!(url, error = %e, attempt, "the alert webhook is unreachable"),
        }
        if attempt < WEBHOOK_ATTEMPTS {
            tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
        }
    }
    metrics::counter!("attestd_alert_webhook_deliveries_total", "outcome" => "failure").increment(1);
}

impl crate::Service {
    /// [`crate::Service::issue`], then hands the verdict to the monitor when the appraisal names
    /// its attester. Draft-policy attestations are trials, not verdicts: they are not recorded.
    pub(crate) fn issue_noted(
        &self,
        provider: &crate::Provider,
        t: AttestationType,
        policy: &crate::policy::ActivePolicy,
        mut appraisal: attestd_evidence::Appraisal,
        options: &crate::AttestOptions,
    ) -> Result<String, crate::ServiceError> {
        let attester = appraisal.attester.take();
        let issued = self.issue(provider, t, policy, appraisal, options);
        if let Some(a) = attester
            && options.draft_policy.is_none()
        {
            let code = issued.as_ref().err().map(crate::ServiceError::code);
            self.note_attester(provider, t, a.id, Some(a.measurements), code);
        }
        issued
    }

    /// Records a verification failure for the attester the evidence claimed (if any) and
    /// returns the error as the service's.
    pub(crate) fn note_failed_evidence(
        &self,
        provider: &crate::Provider,
        t: AttestationType,
        e: attestd_evidence::EvidenceError,
        options: &crate::AttestOptions,
    ) -> crate::ServiceError {
        if let Some(id) = &e.attester
            && options.draft_policy.is_none()
        {
            self.note_attester(provider, t, id.clone(), None, Some(&e.code));
        }
        e.into()
    }

    /// Hands one attestation of an identified attester to the monitor.
    fn note_attester(
        &self,
        provider: &crate::Provider,
        t: AttestationType,
        attester_id: String,
        measurements: Option<BTreeMap<String, String>>,
        error_code: Option<&str>,
    ) {
        self.monitor.observe(Observation {
            provider: provider.name.to_string(),
            webhook: provider.settings.webhook_url.clone(),
            attestation_type: t,
            attester_id,
            at: crate::registry::unix_now(),
            measurements,
            error_code: error_code.map(str::to_owned),
        });
    }
}

/// An attester's state as JSON (admin API and CLI).
pub fn attester_json(r: &AttesterRecord) -> Value {
    json!({
        "provider": r.provider,
        "attestation_type": r.attestation_type,
        "attester_id": r.attester_id,
        "first_seen": r.first_seen,
        "last_seen": r.last_seen,
        "last_outcome": r.last_outcome,
        "last_error_code": r.last_error_code,
        "baseline": r.baseline.as_deref().and_then(|b| serde_json::from_str::<Value>(b).ok()),
        "baseline_at": r.baseline_at,
        "successes": r.successes,
        "failures": r.failures,
    })
}

/// One history entry as JSON (admin API and CLI).
pub fn attester_event_json(e: &AttesterEvent) -> Value {
    json!({
        "id": e.id,
        "at": e.at,
        "provider": e.provider,
        "attestation_type": e.attestation_type,
        "attester_id": e.attester_id,
        "outcome": e.outcome,
        "error_code": e.error_code,
        "measurements": e.measurements.as_deref().and_then(|m| serde_json::from_str::<Value>(m).ok()),
        "alert": e.alert,
        "detail": e.detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn obs(at: i64, measurements: Option<BTreeMap<String, String>>, error: Option<&str>) -> Observation {
        Observation {
            provider: "p".into(),
            webhook: None,
            attestation_type: AttestationType::Tpm,
            attester_id: "aik".into(),
            at,
            measurements,
            error_code: error.map(str::to_owned),
        }
    }

    #[test]
    fn first_success_sets_the_baseline_without_alert() {
        let (s, e, a) = judge(None, &obs(10, Some(m(&[("PCR0", "aa")])), None));
        assert_eq!(a, None);
        assert_eq!(
            (s.successes, s.failures, s.first_seen, s.baseline_at),
            (1, 0, 10, Some(10))
        );
        assert_eq!(s.baseline.as_deref(), Some(r#"{"PCR0":"aa"}"#));
        assert_eq!((e.outcome.as_str(), e.alert), ("success", None));
    }

    #[test]
    fn changed_measurements_alert_and_move_the_baseline() {
        let (s1, _, _) = judge(None, &obs(10, Some(m(&[("PCR0", "aa"), ("PCR4", "bb")])), None));
        let (s2, e2, a2) = judge(
            Some(&s1),
            &obs(20, Some(m(&[("PCR0", "aa"), ("PCR4", "cc"), ("PCR7", "dd")])), None),
        );
        let a2 = a2.expect("an alert");
        assert_eq!(a2.kind, AlertKind::MeasurementsChanged);
        assert_eq!(a2.changed, vec!["PCR4".to_owned(), "PCR7".to_owned()]);
        assert_eq!(a2.previous_success_at, Some(10));
        assert_eq!(e2.alert.as_deref(), Some("MeasurementsChanged"));
        assert_eq!(e2.detail.as_deref(), Some("changed: PCR4, PCR7"));
        assert_eq!((s2.first_seen, s2.baseline_at, s2.successes), (10, Some(20), 2));
        // The same measurements again: no alert.
        let (_, _, a3) = judge(
            Some(&s2),
            &obs(30, Some(m(&[("PCR0", "aa"), ("PCR4", "cc"), ("PCR7", "dd")])), None),
        );
        assert_eq!(a3, None);
    }

    #[test]
    fn a_failure_after_success_alerts_once() {
        let (s1, _, _) = judge(None, &obs(10, Some(m(&[("PCR0", "aa")])), None));
        let (s2, e2, a2) = judge(Some(&s1), &obs(20, None, Some("QuoteSignatureInvalid")));
        assert_eq!(a2.map(|a| a.kind), Some(AlertKind::AttestationFailed));
        assert_eq!(e2.error_code.as_deref(), Some("QuoteSignatureInvalid"));
        // The baseline survives a failure.
        assert_eq!(
            (s2.baseline.clone(), s2.failures, s2.last_outcome.as_str()),
            (s1.baseline.clone(), 1, "failure")
        );
        let (s3, _, a3) = judge(Some(&s2), &obs(30, None, Some("QuoteSignatureInvalid")));
        assert_eq!(a3, None, "repeated failures alert once");
        // Recovery with the old measurements: no alert; with other ones: MeasurementsChanged.
        let (_, _, a4) = judge(Some(&s3), &obs(40, Some(m(&[("PCR0", "aa")])), None));
        assert_eq!(a4, None);
        let (_, _, a5) = judge(Some(&s3), &obs(40, Some(m(&[("PCR0", "ff")])), None));
        assert_eq!(a5.map(|a| a.kind), Some(AlertKind::MeasurementsChanged));
    }

    #[test]
    fn a_first_failure_does_not_alert() {
        let (s, _, a) = judge(None, &obs(10, None, Some("AikCertificateUntrusted")));
        assert_eq!(a, None);
        assert_eq!((s.successes, s.failures, s.baseline), (0, 1, None));
    }

    #[test]
    fn a_policy_denial_names_what_changed() {
        let (s1, _, _) = judge(None, &obs(10, Some(m(&[("PCR7", "aa")])), None));
        let (_, _, a) = judge(
            Some(&s1),
            &obs(20, Some(m(&[("PCR7", "bb")])), Some("PolicyEvaluationError")),
        );
        let a = a.expect("alert");
        assert_eq!(
            (a.kind, a.changed),
            (AlertKind::AttestationFailed, vec!["PCR7".to_owned()])
        );
    }
}
