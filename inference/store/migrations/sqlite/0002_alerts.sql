-- Alerts, silences, the notification outbox and source heartbeats, SQLite flavour (keep in step with
-- ../postgres/0002_alerts.sql). Timestamps as in 0001: 27-character UTC RFC 3339 text, so text order is time
-- order. JSON columns (detail, alert_ids, payload) are TEXT.

-- One row per episode of a rule breached by an asset: opened as pending, fired, resolved. At most one open
-- (pending or firing) row per (rule, asset_id), enforced by the partial unique index below.
CREATE TABLE alerts (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    rule              TEXT NOT NULL,
    -- The asset (a wheel, an inverter) or the source (a camera folder) the rule is about; not a foreign key,
    -- since a source that never delivered anything has no asset row.
    asset_id          TEXT NOT NULL,
    site              TEXT NOT NULL,
    pipeline          TEXT NOT NULL,
    -- The notification route whose engine owns the alert.
    route             TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
    consecutive       INTEGER NOT NULL DEFAULT 0,
    value             REAL,
    threshold         REAL,
    opened_at         TEXT NOT NULL CHECK (length(opened_at) = 27),
    updated_at        TEXT NOT NULL CHECK (length(updated_at) = 27),
    fired_at          TEXT CHECK (length(fired_at) = 27),
    resolved_at       TEXT CHECK (length(resolved_at) = 27),
    acked_at          TEXT CHECK (length(acked_at) = 27),
    acked_by          TEXT,
    last_notified_at  TEXT CHECK (length(last_notified_at) = 27),
    escalation_level  INTEGER NOT NULL DEFAULT 0,
    escalated_at      TEXT CHECK (length(escalated_at) = 27),
    -- A state change people have not been told about yet ('firing' or 'resolved'), and since when it waits:
    -- the engine groups these into one message per contact once the oldest has waited the route's group_wait.
    pending_notice    TEXT CHECK (pending_notice IN ('firing', 'resolved')),
    notice_since      TEXT CHECK (length(notice_since) = 27),
    detail            TEXT NOT NULL DEFAULT '{}',
    CHECK ((pending_notice IS NULL) = (notice_since IS NULL)),
    CHECK ((acked_at IS NULL) = (acked_by IS NULL))
);
CREATE UNIQUE INDEX alerts_one_open ON alerts (rule, asset_id) WHERE state IN ('pending', 'firing');
CREATE INDEX alerts_route_notice ON alerts (route, notice_since) WHERE pending_notice IS NOT NULL;
CREATE INDEX alerts_route_state ON alerts (route, state);
CREATE INDEX alerts_asset_time ON alerts (asset_id, opened_at);
CREATE INDEX alerts_opened ON alerts (opened_at);

-- Maintenance windows: notifications about the asset (or every asset of the site) are suppressed in
-- [starts_at, ends_at); alert state is still recorded.
CREATE TABLE silences (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    asset_id    TEXT,
    site        TEXT,
    starts_at   TEXT NOT NULL CHECK (length(starts_at) = 27),
    ends_at     TEXT NOT NULL CHECK (length(ends_at) = 27),
    reason      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL CHECK (length(created_at) = 27),
    CHECK (asset_id IS NOT NULL OR site IS NOT NULL),
    CHECK (ends_at > starts_at)
);
CREATE INDEX silences_ends ON silences (ends_at);

-- The durable outbox: every notification is written here (in the transaction of the alert change that caused
-- it) before any attempt to send it. The idempotency key makes enqueueing the same notice twice impossible.
CREATE TABLE notifications (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_ids        TEXT NOT NULL DEFAULT '[]',
    route            TEXT NOT NULL,
    channel          TEXT NOT NULL CHECK (channel IN ('sms', 'email', 'webhook')),
    recipient        TEXT NOT NULL,
    subject          TEXT NOT NULL,
    text             TEXT NOT NULL,
    html             TEXT,
    payload          TEXT NOT NULL DEFAULT '{}',
    idempotency_key  TEXT NOT NULL UNIQUE,
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL CHECK (length(next_attempt_at) = 27),
    last_error       TEXT,
    provider_id      TEXT,
    created_at       TEXT NOT NULL CHECK (length(created_at) = 27),
    sent_at          TEXT CHECK (length(sent_at) = 27),
    failed_at        TEXT CHECK (length(failed_at) = 27),
    claimed_by       TEXT,
    claimed_until    TEXT CHECK (length(claimed_until) = 27),
    CHECK ((status = 'sent') = (sent_at IS NOT NULL)),
    CHECK (status <> 'sending' OR (claimed_by IS NOT NULL AND claimed_until IS NOT NULL))
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notifications_lease ON notifications (claimed_until) WHERE status = 'sending';
CREATE INDEX notifications_status_time ON notifications (status, created_at);

-- When each data source (a camera folder, an inverter feed) last delivered something.
CREATE TABLE heartbeats (
    source     TEXT PRIMARY KEY NOT NULL,
    last_seen  TEXT NOT NULL CHECK (length(last_seen) = 27)
);
