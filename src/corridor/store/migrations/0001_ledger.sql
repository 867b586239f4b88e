-- corridor ledger schema on PostgreSQL, version 1: the same tables and columns as the SQLite
-- store (corridor/store/sqlite.py), so auditors' SQL runs on both.
--
-- Ids (128-bit) are 16-byte big-endian bytea, as SQLite's BLOBs: byte order is numeric order,
-- a lookup compares 16 bytes, and the writer copies them straight from the audit leaves.
-- corridor_id(numeric) and corridor_id_numeric(bytea) (migration 2) convert for people.
-- Amounts, balances, timestamps (ns since the Unix epoch), ledgers, user_data_64/32 and
-- timeouts are bigint: the ledger caps amounts and balances at 2^63 - 1 (AMOUNT_MAX) and the
-- others are at most 64-bit signed or 32-bit unsigned. Zero ids and zero previous-transfer
-- timestamps are NULL, as in SQLite.

CREATE TABLE meta (
    key text PRIMARY KEY,
    value text NOT NULL
);

-- Rewritten by every batch that touches an account: room on each page for HOT updates.
CREATE TABLE accounts (
    timestamp bigint PRIMARY KEY,
    id bytea NOT NULL UNIQUE,
    ledger bigint NOT NULL,
    code integer NOT NULL,
    flags integer NOT NULL,
    user_data_128 bytea,
    user_data_64 bigint NOT NULL DEFAULT 0,
    user_data_32 bigint NOT NULL DEFAULT 0,
    debits_pending bigint NOT NULL DEFAULT 0,
    debits_posted bigint NOT NULL DEFAULT 0,
    credits_pending bigint NOT NULL DEFAULT 0,
    credits_posted bigint NOT NULL DEFAULT 0,
    last_transfer_timestamp bigint NOT NULL DEFAULT 0
) WITH (fillfactor = 50);

-- Append-only. An account's transfers are a linked list through the two previous-transfer
-- timestamps (newest first), walked by one recursive query, instead of two secondary
-- indexes on every insert.
CREATE TABLE transfers (
    timestamp bigint PRIMARY KEY,
    id bytea NOT NULL UNIQUE,
    debit_account_id bytea NOT NULL,
    credit_account_id bytea NOT NULL,
    amount bigint NOT NULL,
    pending_id bytea,
    user_data_128 bytea,
    user_data_64 bigint NOT NULL DEFAULT 0,
    user_data_32 bigint NOT NULL DEFAULT 0,
    timeout bigint NOT NULL DEFAULT 0,
    ledger bigint NOT NULL,
    code integer NOT NULL,
    flags integer NOT NULL,
    debit_previous_timestamp bigint,
    credit_previous_timestamp bigint,
    log_index bigint NOT NULL
);

CREATE INDEX transfers_pending_id ON transfers (pending_id) WHERE pending_id IS NOT NULL;

CREATE TABLE expirations (
    pending_id bytea PRIMARY KEY,
    timestamp bigint NOT NULL UNIQUE,
    log_index bigint NOT NULL UNIQUE
);

CREATE TABLE documents (
    log_index bigint PRIMARY KEY,
    sha256 bytea NOT NULL,
    timestamp bigint NOT NULL UNIQUE
);

-- The audit log's Merkle tree: rows of up to 256 32-byte hashes at heights 0, 4, 8, ...
-- (corridor.audit.tiles). Hashes do not compress: store them out of line without trying.
CREATE TABLE log_hashes (
    level integer NOT NULL,
    row bigint NOT NULL,
    hashes bytea NOT NULL,
    PRIMARY KEY (level, row)
);
ALTER TABLE log_hashes ALTER COLUMN hashes SET STORAGE EXTERNAL;

CREATE TABLE account_balances (
    account_id bytea NOT NULL,
    timestamp bigint NOT NULL,
    debits_pending bigint NOT NULL,
    debits_posted bigint NOT NULL,
    credits_pending bigint NOT NULL,
    credits_posted bigint NOT NULL,
    PRIMARY KEY (account_id, timestamp)
);
