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
    (
        2,
        "supplier dialogue: registry, offer threads, transitions, provenance, outbox",
        """
        CREATE SEQUENCE supplier_id_seq START 1;
        CREATE TABLE suppliers (
            id BIGINT PRIMARY KEY DEFAULT nextval('supplier_id_seq'),
            name VARCHAR NOT NULL,
            registered BOOLEAN NOT NULL,
            language VARCHAR,
            auto_questions BOOLEAN,
            acknowledgements BOOLEAN,
            offer_fields JSON,
            item_fields JSON,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL
        );
        CREATE TABLE supplier_addresses (
            address VARCHAR PRIMARY KEY,
            supplier_id BIGINT NOT NULL,
            kind VARCHAR NOT NULL
        );
        ALTER TABLE offers ADD COLUMN supplier_id BIGINT;
        ALTER TABLE offers ADD COLUMN contact_addr VARCHAR;
        ALTER TABLE offers ADD COLUMN token VARCHAR;
        ALTER TABLE offers ADD COLUMN subject VARCHAR;
        ALTER TABLE offers ADD COLUMN rounds INTEGER DEFAULT 0;
        ALTER TABLE offers ADD COLUMN reminders INTEGER DEFAULT 0;
        ALTER TABLE offers ADD COLUMN next_action_at TIMESTAMP;
        ALTER TABLE offers ADD COLUMN missing JSON;
        ALTER TABLE offers ADD COLUMN review_reasons JSON;
        CREATE TABLE offer_mails (
            offer_id BIGINT NOT NULL,
            mail_id BIGINT NOT NULL,
            role VARCHAR NOT NULL,
            message_id VARCHAR,
            linked_at TIMESTAMP NOT NULL,
            PRIMARY KEY (offer_id, mail_id)
        );
        CREATE SEQUENCE transition_id_seq START 1;
        CREATE TABLE offer_transitions (
            id BIGINT PRIMARY KEY DEFAULT nextval('transition_id_seq'),
            offer_id BIGINT NOT NULL,
            from_state VARCHAR,
            to_state VARCHAR NOT NULL,
            actor VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            mail_id BIGINT,
            occurred_at TIMESTAMP NOT NULL
        );
        CREATE SEQUENCE field_value_id_seq START 1;
        CREATE TABLE field_values (
            id BIGINT PRIMARY KEY DEFAULT nextval('field_value_id_seq'),
            offer_id BIGINT NOT NULL,
            item_position INTEGER,
            field VARCHAR NOT NULL,
            value JSON,
            mail_id BIGINT,
            source VARCHAR NOT NULL,
            span_start INTEGER,
            span_end INTEGER,
            snippet VARCHAR,
            is_current BOOLEAN NOT NULL,
            flagged BOOLEAN NOT NULL DEFAULT FALSE,
            recorded_at TIMESTAMP NOT NULL
        );
        CREATE INDEX field_values_offer ON field_values (offer_id);
        CREATE SEQUENCE outbox_id_seq START 1;
        CREATE TABLE outbox (
            id BIGINT PRIMARY KEY DEFAULT nextval('outbox_id_seq'),
            idem_key VARCHAR NOT NULL UNIQUE,
            offer_id BIGINT,
            mail_id BIGINT,
            kind VARCHAR NOT NULL,
            round INTEGER,
            to_addr VARCHAR,
            subject VARCHAR,
            message_id VARCHAR,
            in_reply_to VARCHAR,
            language VARCHAR,
            raw BLOB,
            state VARCHAR NOT NULL,
            reason VARCHAR,
            error VARCHAR,
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            sent_at TIMESTAMP
        );
        CREATE INDEX outbox_message_id ON outbox (message_id);
        CREATE INDEX outbox_to ON outbox (to_addr);
        """,
    ),
    (
        3,
        "review: confidence, corrections, users, sessions, API tokens, webhooks",
        """
        ALTER TABLE field_values ADD COLUMN confidence DOUBLE;
        ALTER TABLE offers ADD COLUMN reviewed_by VARCHAR;
        ALTER TABLE offers ADD COLUMN reviewed_at TIMESTAMP;
        -- Values the model gave that the first mail does not contain (path -> value).
        ALTER TABLE offers ADD COLUMN unfound JSON;
        CREATE INDEX offers_updated ON offers (updated_at);
        CREATE SEQUENCE correction_id_seq START 1;
        CREATE TABLE corrections (
            id BIGINT PRIMARY KEY DEFAULT nextval('correction_id_seq'),
            offer_id BIGINT NOT NULL,
            mail_id BIGINT,
            item_position INTEGER,
            field VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            before JSON,
            after JSON,
            user_name VARCHAR NOT NULL,
            comment VARCHAR,
            created_at TIMESTAMP NOT NULL
        );
        CREATE INDEX corrections_offer ON corrections (offer_id);
        CREATE SEQUENCE user_id_seq START 1;
        CREATE TABLE users (
            id BIGINT PRIMARY KEY DEFAULT nextval('user_id_seq'),
            name VARCHAR NOT NULL UNIQUE,
            role VARCHAR NOT NULL,
            password_hash VARCHAR NOT NULL,
            active BOOLEAN NOT NULL DEFAULT TRUE,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            last_login_at TIMESTAMP
        );
        CREATE SEQUENCE api_token_id_seq START 1;
        CREATE TABLE api_tokens (
            id BIGINT PRIMARY KEY DEFAULT nextval('api_token_id_seq'),
            name VARCHAR NOT NULL,
            token_hash VARCHAR NOT NULL UNIQUE,
            prefix VARCHAR NOT NULL,
            scopes JSON NOT NULL,
            created_by VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL,
            expires_at TIMESTAMP,
            revoked_at TIMESTAMP,
            last_used_at TIMESTAMP
        );
        CREATE SEQUENCE webhook_delivery_id_seq START 1;
        CREATE TABLE webhook_deliveries (
            id BIGINT PRIMARY KEY DEFAULT nextval('webhook_delivery_id_seq'),
            event_id VARCHAR NOT NULL,
            hook VARCHAR NOT NULL,
            event VARCHAR NOT NULL,
            offer_id BIGINT,
            payload JSON NOT NULL,
            state VARCHAR NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TIMESTAMP,
            last_status INTEGER,
            last_error VARCHAR,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            delivered_at TIMESTAMP,
            UNIQUE (event_id, hook)
        );
        CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
        CREATE SEQUENCE webhook_attempt_id_seq START 1;
        CREATE TABLE webhook_attempts (
            id BIGINT PRIMARY KEY DEFAULT nextval('webhook_attempt_id_seq'),
            delivery_id BIGINT NOT NULL,
            attempt INTEGER NOT NULL,
            status INTEGER,
            error VARCHAR,
            duration_ms DOUBLE,
            attempted_at TIMESTAMP NOT NULL
        );
        -- A reviewer removed the item: its values stay as history, out of the positions.
        ALTER TABLE field_values ADD COLUMN removed_at TIMESTAMP;
        CREATE INDEX corrections_created ON corrections (created_at);
        -- Webhook dispatcher: the last change-log row fanned out, per log. Starts at the
        -- current end, so an existing installation gets no replay of its history.
        CREATE TABLE webhook_cursor (source VARCHAR PRIMARY KEY, last_id BIGINT NOT NULL);
        INSERT INTO webhook_cursor
            SELECT 'offer_transitions', coalesce(max(id), 0) FROM offer_transitions;
        INSERT INTO webhook_cursor SELECT 'corrections', coalesce(max(id), 0) FROM corrections;
        -- One random id per database file: event ids carry it, so a database rebuilt from the
        -- raw mails (whose change logs count from 1 again) never repeats an event id.
        CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
        INSERT INTO meta VALUES ('database_id', substr(replace(uuid()::VARCHAR, '-', ''), 1, 12));
        """,
    ),
    (
        4,
        "extra fields: configured values per item and per offer",
        """
        -- Values of the extra fields of [[extraction.fields]]: name -> value, stated ones only
        -- (NULL: none). Their provenance is in field_values as field 'extra.<name>'.
        ALTER TABLE offer_items ADD COLUMN extra JSON;
        ALTER TABLE offers ADD COLUMN extra JSON;
        """,
    ),
    (
        5,
        "supplier catalogue: entries, observations, keys, groups, changes, currency rates",
        """
        -- One product of one supplier; ``merged_into`` set when a reviewer merged it away.
        CREATE SEQUENCE catalogue_entry_id_seq START 1;
        CREATE TABLE catalogue_entries (
            id BIGINT PRIMARY KEY DEFAULT nextval('catalogue_entry_id_seq'),
            supplier_id BIGINT NOT NULL,
            name VARCHAR NOT NULL,
            sku VARCHAR,
            brand VARCHAR,
            group_id BIGINT,
            group_source VARCHAR,
            group_reason VARCHAR,
            merged_into BIGINT,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL
        );
        CREATE INDEX catalogue_entries_supplier ON catalogue_entries (supplier_id);
        CREATE INDEX catalogue_entries_group ON catalogue_entries (group_id);
        CREATE INDEX catalogue_entries_updated ON catalogue_entries (updated_at);
        -- Which entry a product key (sku:…, name:…|brand) of a supplier belongs to; a
        -- reviewer's split or merge rewrites it (source 'split'/'merge'), so it sticks.
        CREATE TABLE catalogue_keys (
            supplier_id BIGINT NOT NULL,
            key VARCHAR NOT NULL,
            entry_id BIGINT NOT NULL,
            source VARCHAR NOT NULL,
            reason VARCHAR,
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (supplier_id, key)
        );
        -- A key a reviewer split off an entry never joins that entry again by name similarity.
        CREATE TABLE catalogue_blocks (
            supplier_id BIGINT NOT NULL,
            key VARCHAR NOT NULL,
            entry_id BIGINT NOT NULL,
            user_name VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (supplier_id, key, entry_id)
        );
        -- Every offer item that names an entry; never overwritten: a corrected or replaced
        -- item's observation gets ``is_current = FALSE`` and a new one is written.
        CREATE SEQUENCE catalogue_observation_id_seq START 1;
        CREATE TABLE catalogue_observations (
            id BIGINT PRIMARY KEY DEFAULT nextval('catalogue_observation_id_seq'),
            entry_id BIGINT NOT NULL,
            supplier_id BIGINT NOT NULL,
            offer_id BIGINT NOT NULL,
            item_position INTEGER NOT NULL,
            mail_id BIGINT,
            key VARCHAR NOT NULL,
            observed_at TIMESTAMP NOT NULL,
            product_name VARCHAR NOT NULL,
            sku VARCHAR,
            brand VARCHAR,
            quantity DOUBLE,
            unit VARCHAR,
            unit_price DOUBLE,
            currency VARCHAR,
            moq DOUBLE,
            lead_time_days INTEGER,
            valid_until VARCHAR,
            incoterms VARCHAR,
            payment_terms VARCHAR,
            match_reason VARCHAR NOT NULL,
            anomalies JSON,
            is_current BOOLEAN NOT NULL,
            created_at TIMESTAMP NOT NULL
        );
        CREATE INDEX catalogue_observations_entry ON catalogue_observations (entry_id);
        CREATE INDEX catalogue_observations_offer ON catalogue_observations (offer_id);
        -- Comparison groups across suppliers (the same SKU, or close names).
        CREATE SEQUENCE product_group_id_seq START 1;
        CREATE TABLE product_groups (
            id BIGINT PRIMARY KEY DEFAULT nextval('product_group_id_seq'),
            name VARCHAR NOT NULL,
            sku_key VARCHAR,
            name_key VARCHAR NOT NULL,
            brand_key VARCHAR,
            block VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL
        );
        CREATE INDEX product_groups_sku ON product_groups (sku_key);
        CREATE INDEX product_groups_block ON product_groups (block);
        -- Change events: a new observation moved the price, MOQ, lead time or currency.
        CREATE SEQUENCE catalogue_change_id_seq START 1;
        CREATE TABLE catalogue_changes (
            id BIGINT PRIMARY KEY DEFAULT nextval('catalogue_change_id_seq'),
            entry_id BIGINT NOT NULL,
            supplier_id BIGINT NOT NULL,
            offer_id BIGINT NOT NULL,
            observation_id BIGINT NOT NULL,
            previous_id BIGINT NOT NULL,
            kinds JSON NOT NULL,
            detail JSON NOT NULL,
            occurred_at TIMESTAMP NOT NULL
        );
        CREATE INDEX catalogue_changes_at ON catalogue_changes (occurred_at);
        -- Exchange rates the admin maintains: 1 unit of ``currency`` = ``rate`` units of ``base``.
        CREATE TABLE currency_rates (
            currency VARCHAR NOT NULL,
            base VARCHAR NOT NULL,
            rate DOUBLE NOT NULL,
            as_of DATE NOT NULL,
            source VARCHAR NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            PRIMARY KEY (currency, base)
        );
        INSERT INTO webhook_cursor
            SELECT 'catalogue_changes', coalesce(max(id), 0) FROM catalogue_changes;
        """,
    ),
]
