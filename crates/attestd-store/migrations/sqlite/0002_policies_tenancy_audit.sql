-- Per-provider settings that are not columns of their own (token-auth issuer, webhook, ...), as JSON.
ALTER TABLE providers ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
-- Bumped on every change to a provider's policies or certificates; nodes poll it to refresh caches.
ALTER TABLE providers ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;

-- One policy per provider and attestation type. The text is kept byte-exact (its hash is a claim);
-- the JWS is kept as uploaded (GET returns it).
CREATE TABLE policies (
    provider         TEXT NOT NULL REFERENCES providers(name) ON DELETE CASCADE,
    attestation_type TEXT NOT NULL,
    policy_text      TEXT NOT NULL,
    policy_hash      TEXT NOT NULL,
    policy_jws       TEXT NOT NULL,
    token_hash       TEXT NOT NULL,
    signer           BLOB,
    updated_at       INTEGER NOT NULL,
    PRIMARY KEY (provider, attestation_type)
);

-- Every signed management JWS a provider accepted (by SHA-256 and operation, e.g.
-- `set:SgxEnclave`, `certificates:add`), so that an old one cannot be replayed to roll state back.
CREATE TABLE accepted_jws (
    provider   TEXT NOT NULL REFERENCES providers(name) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    accepted_at INTEGER NOT NULL,
    PRIMARY KEY (provider, scope, token_hash)
);

-- Policy management certificates of isolated providers (thumbprint = upper-case hex SHA-1 of DER).
CREATE TABLE policy_certificates (
    provider    TEXT NOT NULL REFERENCES providers(name) ON DELETE CASCADE,
    thumbprint  TEXT NOT NULL,
    certificate BLOB NOT NULL,
    added_at    INTEGER NOT NULL,
    PRIMARY KEY (provider, thumbprint)
);

-- Collateral (TCB info, QE identity, CRLs, VCEKs) fetched from vendor services, by key.
CREATE TABLE collateral (
    key         TEXT PRIMARY KEY NOT NULL,
    body        BLOB NOT NULL,
    fetched_at  INTEGER NOT NULL,
    next_update INTEGER
);

-- Audit log: management operations and attestations.
CREATE TABLE audit_log (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    at               INTEGER NOT NULL,
    provider         TEXT NOT NULL,
    kind             TEXT NOT NULL,
    operation        TEXT NOT NULL,
    actor            TEXT,
    attestation_type TEXT,
    outcome          TEXT NOT NULL,
    error_code       TEXT,
    before_hash      TEXT,
    after_hash       TEXT,
    policy_hash      TEXT,
    evidence_digest  TEXT,
    duration_us      INTEGER,
    detail           TEXT
);
CREATE INDEX audit_log_provider_at ON audit_log(provider, at);
CREATE INDEX audit_log_at ON audit_log(at);

-- Service-wide values (e.g. the hash of the admin credential).
CREATE TABLE service_meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
