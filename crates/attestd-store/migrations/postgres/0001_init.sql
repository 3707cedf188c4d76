-- Attestation providers (tenants).
CREATE TABLE providers (
    name        TEXT PRIMARY KEY NOT NULL,
    trust_model TEXT NOT NULL,
    token_alg   TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Token signing keys. A provider has exactly one active key; retired keys stay published in
-- /certs until removed so that tokens they signed keep verifying.
CREATE TABLE signing_keys (
    provider    TEXT NOT NULL REFERENCES providers(name) ON DELETE CASCADE,
    kid         TEXT NOT NULL,
    alg         TEXT NOT NULL,
    protection  TEXT NOT NULL,
    private_key BYTEA NOT NULL,
    certificate BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    active      BIGINT NOT NULL,
    PRIMARY KEY (provider, kid)
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys(provider) WHERE active = 1;
