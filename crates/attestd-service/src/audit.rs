//! The attestation audit trail: every attestation is recorded (provider, type, verdict, policy
//! hash, evidence digest, error code, duration) without touching the database on the request path:
//! records go through a bounded channel to a task that writes them in batches.

use attestd_store::{AuditRecord, Store};
use tokio::sync::{mpsc, oneshot};

enum Message {
    Record(Box<AuditRecord>),
    Flush(oneshot::Sender<()>),
}

/// The sending side; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct AuditSink {
    tx: mpsc::Sender<Message>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("audit message")
    }
}

const CAPACITY: usize = 16 * 1024;
const BATCH: usize = 512;
/// How long the writer waits for more records after the first of a batch. Each batch is one
/// transaction with a synced commit, whose cost is shared by the batch's records; a crash loses
/// at most this much of the trail (as it loses whatever is still queued).
const LINGER: std::time::Duration = std::time::Duration::from_millis(100);

impl AuditSink {
    /// Starts the writer task (on the current tokio runtime).
    pub(crate) fn start(store: Store) -> AuditSink {
        let (tx, mut rx) = mpsc::channel::<Message>(CAPACITY);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while let Some(first) = rx.recv().await {
                let mut waiters = Vec::new();
                let mut next = Some(first);
                // Linger briefly for more records: one transaction (and one round trip to the
                // database thread) per batch instead of per attestation under load. A flush
                // ends the wait at once.
                let linger = tokio::time::sleep(LINGER);
                tokio::pin!(linger);
                loop {
                    while let Some(message) = next.take() {
                        match message {
                            Message::Record(r) => batch.push(*r),
                            Message::Flush(ack) => waiters.push(ack),
                        }
                        if batch.len() < BATCH {
                            next = rx.try_recv().ok();
                        }
                    }
                    if batch.len() >= BATCH || !waiters.is_empty() {
                        break;
                    }
                    tokio::select! {
                        m = rx.recv() => match m {
                            Some(m) => next = Some(m),
                            None => break,
                        },
                        () = &mut linger => break,
                    }
                }
                if let Err(e) = store.insert_audit(&batch).await {
                    tracing::warn!(error = %e, records = batch.len(), "could not write attestation audit records");
                    metrics::counter!("attestd_audit_records_dropped_total").increment(batch.len() as u64);
                }
                batch.clear();
                for w in waiters {
                    let _ = w.send(());
                }
            }
        });
        AuditSink { tx }
    }

    /// Queues a record; if the writer is far behind, the record is dropped and counted.
    pub(crate) fn record(&self, record: AuditRecord) {
        if self.tx.try_send(Message::Record(Box::new(record))).is_err() {
            metrics::counter!("attestd_audit_records_dropped_total").increment(1);
        }
    }

    /// Waits until every record queued before this call is written.
    pub(crate) async fn flush(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Message::Flush(ack)).await.is_ok() {
            let _ = done.await;
        }
    }
}
