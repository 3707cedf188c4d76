-- Attester monitoring: the last known state of each attesting machine (by provider, attestation
-- type and a stable identity such as the TPM AIK's hash), and its history.
CREATE TABLE attesters (
    provider         TEXT NOT NULL REFERENCES providers(name) ON DELETE CASCADE,
    attestation_type TEXT NOT NULL,
    attester_id      TEXT NOT NULL,
    first_seen       BIGINT NOT NULL,
    last_seen        BIGINT NOT NULL,
    last_outcome     TEXT NOT NULL,
    last_error_code  TEXT,
    -- JSON object of the measurements of the last successful attestation (the baseline).
    baseline         TEXT,
    baseline_at      BIGINT,
    successes        BIGINT NOT NULL DEFAULT 0,
    failures         BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (provider, attestation_type, attester_id)
);

CREATE TABLE attester_events (
    id               BIGSERIAL PRIMARY KEY,
    provider         TEXT NOT NULL,
    attestation_type TEXT NOT NULL,
    attester_id      TEXT NOT NULL,
    at               BIGINT NOT NULL,
    outcome          TEXT NOT NULL,
    error_code       TEXT,
    measurements     TEXT,
    alert            TEXT,
    detail           TEXT
);
CREATE INDEX attester_events_by_attester ON attester_events(provider, attester_id, id);
CREATE INDEX attester_events_at ON attester_events(at);
