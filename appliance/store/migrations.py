"""Numbered schema migrations, applied in order and recorded in ``schema_migrations``.

Append new migrations at the end; never edit one that has shipped.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "mails, keys, offers, items, events",
        """
        CREATE SEQUENCE mail_id_seq START 1;
        CREATE TABLE mails (
            id BIGINT PRIMARY KEY DEFAULT nextval('mail_id_seq'),
            sha256 VARCHAR NOT NULL UNIQUE,
            account VARCHAR NOT NULL,
            size BIGINT NOT NULL,
            message_id VARCHAR,
            subject VARCHAR,
            from_name VARCHAR,
            from_addr VARCHAR,
            sent_at VARCHAR,
            language VARCHAR,
            attachments JSON,
            warnings JSON,
            state VARCHAR NOT NULL,
            error_code VARCHAR,
            error_message VARCHAR,
            attempts INTEGER NOT NULL DEFAULT 0,
            received_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL
        );
        CREATE TABLE mail_keys (
            key VARCHAR PRIMARY KEY,
            mail_id BIGINT NOT NULL,
            account VARCHAR NOT NULL,
            folder VARCHAR NOT NULL,
            uidvalidity BIGINT NOT NULL,
            uid VARCHAR NOT NULL,
            seen_at TIMESTAMP NOT NULL,
            UNIQUE (account, folder, uidvalidity, uid)
        );
        CREATE SEQUENCE offer_id_seq START 1;
        CREATE TABLE offers (
            id BIGINT PRIMARY KEY DEFAULT nextval('offer_id_seq'),
            mail_id BIGINT NOT NULL UNIQUE,
            supplier_name VARCHAR,
            supplier_email VARCHAR,
            valid_until VARCHAR,
            incoterms VARCHAR,
            payment_terms VARCHAR,
            language VARCHAR,
            state VARCHAR NOT NULL,
            model VARCHAR,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL
        );
        CREATE SEQUENCE item_id_seq START 1;
        CREATE TABLE offer_items (
            id BIGINT PRIMARY KEY DEFAULT nextval('item_id_seq'),
            offer_id BIGINT NOT NULL,
            position INTEGER NOT NULL,
            product_name VARCHAR NOT NULL,
            sku VARCHAR,
            brand VARCHAR,
            quantity DOUBLE,
            unit VARCHAR,
            unit_price DOUBLE,
            currency VARCHAR,
            total_price DOUBLE,
            moq DOUBLE,
            dim_length DOUBLE,
            dim_width DOUBLE,
            dim_height DOUBLE,
            dim_unit VARCHAR,
            weight_value DOUBLE,
            weight_unit VARCHAR,
            lead_time_days INTEGER,
            UNIQUE (offer_id, position)
        );
        CREATE SEQUENCE event_id_seq START 1;
        CREATE TABLE events (
            id BIGINT PRIMARY KEY DEFAULT nextval('event_id_seq'),
            mail_id BIGINT,
            offer_id BIGINT,
            stage VARCHAR NOT NULL,
            outcome VARCHAR NOT NULL,
            duration_ms DOUBLE,
            detail VARCHAR,
            occurred_at TIMESTAMP NOT NULL
        );
        CREATE INDEX events_mail ON events (mail_id);
        CREATE INDEX offers_supplier ON offers (supplier_email);
        """,
    ),
]
