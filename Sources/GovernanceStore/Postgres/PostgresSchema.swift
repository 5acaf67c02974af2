/// The tables of a fleet's PostgreSQL database: one readable table per kind of state, so an
/// operator can query it with `psql`. Keys compare byte for byte (`COLLATE "C"`), as in LMDB.
/// Times are microseconds since the epoch (`bigint`), records and entries `json`.
enum PostgresSchema {
    /// The version this build writes; `migrate-schema` (or a start) brings an older database to it.
    static let version = 2

    /// What brings a database of version N to N + 1, before ``current`` runs on it.
    static let upgrade: [Int: [String]] = [
        // 1 → 2: records and entries as `json` (the view over the policy is made again by
        // `current`); the batch functions are created by `current`.
        1: ["DROP VIEW IF EXISTS settings"] + [
            ("policy", "snapshot"), ("deployments", "record"), ("idempotency", "record"), ("builds", "build"),
            ("upload_capabilities", "capability"), ("audit", "entry"), ("refusals", "note"),
        ].map { table, column in "ALTER TABLE \(table) ALTER COLUMN \(column) TYPE json USING \(column)::json" },
    ]

    /// The current schema, in order. Every statement can run again on a database that has it.
    static let current: [String] = [
        """
        CREATE TABLE IF NOT EXISTS dxcp_schema (
            singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            version integer NOT NULL)
        """,
        // The fleet's one row every mutating transaction locks first (DECISIONS 80): the head of
        // the one audit chain and where retention left it, the policy generation, a commit count.
        """
        CREATE TABLE IF NOT EXISTS fleet_head (
            singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            audit_sequence bigint NOT NULL,
            audit_hash text NOT NULL,
            audit_checkpoint_sequence bigint NOT NULL DEFAULT 0,
            audit_checkpoint_hash text NOT NULL DEFAULT '0000000000000000000000000000000000000000000000000000000000000000',
            policy_generation bigint NOT NULL,
            commits bigint NOT NULL)
        """,
        // A token per committed batch, so a replica whose COMMIT answer was lost can ask whether
        // it was applied; the expiry pass removes tokens older than an hour.
        """
        CREATE TABLE IF NOT EXISTS batches (
            token text COLLATE "C" PRIMARY KEY,
            committed_at bigint NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS policy (
            singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            generation bigint NOT NULL,
            snapshot json NOT NULL)
        """,
        "CREATE OR REPLACE VIEW settings AS SELECT generation, snapshot -> 'settings' AS settings FROM policy",
        """
        CREATE TABLE IF NOT EXISTS deployments (
            id text COLLATE "C" PRIMARY KEY,
            service text COLLATE "C" NOT NULL,
            environment text COLLATE "C" NOT NULL,
            delivery_group text COLLATE "C" NOT NULL,
            state text NOT NULL,
            kind text NOT NULL,
            version text COLLATE "C" NOT NULL,
            created_at bigint NOT NULL,
            updated_at bigint NOT NULL,
            execution_id text,
            record json NOT NULL)
        """,
        "CREATE INDEX IF NOT EXISTS deployments_by_scope ON deployments (service, environment, created_at, id)",
        "CREATE INDEX IF NOT EXISTS deployments_by_group ON deployments (delivery_group, created_at, id)",
        "CREATE INDEX IF NOT EXISTS deployments_by_time ON deployments (created_at, id)",
        """
        CREATE INDEX IF NOT EXISTS deployments_succeeded ON deployments (service, environment, created_at, id)
            WHERE state = 'SUCCEEDED'
        """,
        // A deployment holds its group and environment's slot exactly while it has a row here.
        """
        CREATE TABLE IF NOT EXISTS slots (
            delivery_group text COLLATE "C" NOT NULL,
            environment text COLLATE "C" NOT NULL,
            deployment_id text COLLATE "C" NOT NULL,
            state text NOT NULL,
            updated_at bigint NOT NULL,
            awaiting_engine boolean NOT NULL,
            PRIMARY KEY (delivery_group, environment, deployment_id))
        """,
        """
        CREATE TABLE IF NOT EXISTS quota_counters (
            kind text NOT NULL,
            scope text COLLATE "C" NOT NULL,
            day bigint NOT NULL,
            used integer NOT NULL,
            PRIMARY KEY (kind, scope, day))
        """,
        """
        CREATE TABLE IF NOT EXISTS rate_windows (
            minute bigint NOT NULL,
            actor text COLLATE "C" NOT NULL,
            bucket text NOT NULL,
            count integer NOT NULL,
            PRIMARY KEY (minute, actor, bucket))
        """,
        """
        CREATE TABLE IF NOT EXISTS idempotency (
            actor text COLLATE "C" NOT NULL,
            endpoint text COLLATE "C" NOT NULL,
            key text COLLATE "C" NOT NULL,
            expires_at bigint NOT NULL,
            record json NOT NULL,
            PRIMARY KEY (actor, endpoint, key))
        """,
        "CREATE INDEX IF NOT EXISTS idempotency_by_expiry ON idempotency (expires_at)",
        """
        CREATE TABLE IF NOT EXISTS builds (
            service text COLLATE "C" NOT NULL,
            version text COLLATE "C" NOT NULL,
            registered_at bigint NOT NULL,
            build json NOT NULL,
            PRIMARY KEY (service, version))
        """,
        """
        CREATE TABLE IF NOT EXISTS upload_capabilities (
            service text COLLATE "C" NOT NULL,
            version text COLLATE "C" NOT NULL,
            token text COLLATE "C" NOT NULL,
            expires_at bigint NOT NULL,
            capability json NOT NULL,
            PRIMARY KEY (service, version, token))
        """,
        // A reservation whose trigger is neither recorded nor released, with the key it completes.
        """
        CREATE TABLE IF NOT EXISTS outbox (
            deployment_id text COLLATE "C" PRIMARY KEY,
            actor text COLLATE "C" NOT NULL,
            endpoint text COLLATE "C" NOT NULL,
            key text COLLATE "C" NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS audit (
            sequence bigint PRIMARY KEY,
            timestamp bigint NOT NULL,
            event_type text NOT NULL,
            delivery_group text COLLATE "C",
            hash text NOT NULL,
            entry json NOT NULL)
        """,
        "CREATE INDEX IF NOT EXISTS audit_by_group ON audit (delivery_group, timestamp, sequence)",
        "CREATE INDEX IF NOT EXISTS audit_by_type ON audit (event_type, timestamp, sequence)",
        "CREATE INDEX IF NOT EXISTS audit_by_time ON audit (timestamp, sequence)",
        // Refusals are tallied per actor, code and minute (DECISIONS 75).
        """
        CREATE TABLE IF NOT EXISTS refusals (
            minute bigint NOT NULL,
            actor text COLLATE "C" NOT NULL,
            code text NOT NULL,
            count integer NOT NULL,
            note json NOT NULL,
            PRIMARY KEY (minute, actor, code))
        """,
        """
        CREATE TABLE IF NOT EXISTS insights (
            hour bigint NOT NULL,
            delivery_group text COLLATE "C" NOT NULL,
            service text COLLATE "C" NOT NULL,
            measure text COLLATE "C" NOT NULL,
            label text COLLATE "C" NOT NULL,
            count integer NOT NULL,
            PRIMARY KEY (hour, delivery_group, service, measure, label))
        """,
        // A read-only decision's count in its rate window, committed asynchronously: a crash of
        // the database may forget the last moment's reads, as one node forgets its in-memory
        // read windows on a restart; it never forgets a decision (DECISIONS 81).
        """
        CREATE OR REPLACE FUNCTION dxcp_count_read(w_minute bigint, w_actor text, w_bucket text)
        RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM set_config('synchronous_commit', 'off', true);
            INSERT INTO rate_windows (minute, actor, bucket, count) VALUES (w_minute, w_actor, w_bucket, 1)
            ON CONFLICT (minute, actor, bucket) DO UPDATE SET count = rate_windows.count + 1;
        END $$
        """,
        // One unit of work's keyed reads in one call (FleetBatch.fetch): every array may be
        // empty. A function, so that each statement's plan is kept by the session instead of
        // planned on every call, and each key is looked up through its index. STABLE: all its
        // queries read the calling statement's one snapshot (a read-only decision outside a
        // transaction sees one moment of the fleet, not a moment per query).
        """
        CREATE OR REPLACE FUNCTION dxcp_fetch(
            r_minute bigint[], r_actor text[], r_bucket text[],
            q_kind text[], q_scope text[], q_day bigint[],
            i_actor text[], i_endpoint text[], i_key text[],
            d_id text[], b_service text[], b_version text[], o_id text[],
            s_group text[], s_environment text[], s_bound bigint[], want_generation boolean)
        RETURNS TABLE (f_tag text, f_a text, f_b text, f_c text, f_v text) LANGUAGE plpgsql STABLE AS $$
        BEGIN
            IF cardinality(r_minute) > 0 THEN
                RETURN QUERY SELECT 'r', x.actor::text, x.bucket, x.minute::text, x.count::text
                FROM unnest(r_minute, r_actor, r_bucket) AS k(minute, actor, bucket)
                JOIN LATERAL (SELECT * FROM rate_windows y WHERE y.minute = k.minute AND y.actor = k.actor AND y.bucket = k.bucket LIMIT 1) x ON true;
            END IF;
            IF cardinality(q_kind) > 0 THEN
                RETURN QUERY SELECT 'q', x.kind, x.scope::text, x.day::text, x.used::text
                FROM unnest(q_kind, q_scope, q_day) AS k(kind, scope, day)
                JOIN LATERAL (SELECT * FROM quota_counters y WHERE y.kind = k.kind AND y.scope = k.scope AND y.day = k.day LIMIT 1) x ON true;
            END IF;
            IF cardinality(i_actor) > 0 THEN
                RETURN QUERY SELECT 'i', x.actor::text, x.endpoint::text, x.key::text, x.record::text
                FROM unnest(i_actor, i_endpoint, i_key) AS k(actor, endpoint, key)
                JOIN LATERAL (SELECT * FROM idempotency y WHERE y.actor = k.actor AND y.endpoint = k.endpoint AND y.key = k.key LIMIT 1) x ON true;
            END IF;
            IF cardinality(d_id) > 0 THEN
                RETURN QUERY SELECT 'd', x.id::text, '', '', x.record::text FROM deployments x WHERE x.id = ANY(d_id);
            END IF;
            IF cardinality(b_service) > 0 THEN
                RETURN QUERY SELECT 'b', x.service::text, x.version::text, '', x.build::text
                FROM unnest(b_service, b_version) AS k(service, version)
                JOIN LATERAL (SELECT * FROM builds y WHERE y.service = k.service AND y.version = k.version LIMIT 1) x ON true;
            END IF;
            IF cardinality(o_id) > 0 THEN
                RETURN QUERY SELECT 'o', x.deployment_id::text, x.actor::text, x.endpoint::text, x.key::text FROM outbox x WHERE x.deployment_id = ANY(o_id);
            END IF;
            IF cardinality(s_group) > 0 THEN
                RETURN QUERY SELECT 'h', k.delivery_group, k.environment, '',
                    (SELECT count(*) FROM slots y WHERE y.delivery_group = k.delivery_group AND y.environment = k.environment)::text
                FROM unnest(s_group, s_environment) AS k(delivery_group, environment);
                RETURN QUERY SELECT 's', x.delivery_group::text, x.environment::text, x.deployment_id::text, x.updated_at::text
                FROM unnest(s_group, s_environment, s_bound) AS k(delivery_group, environment, bound)
                JOIN LATERAL (SELECT * FROM slots y WHERE y.delivery_group = k.delivery_group AND y.environment = k.environment
                    AND y.state = 'IN_PROGRESS' AND NOT y.awaiting_engine AND y.updated_at <= k.bound OFFSET 0) x ON true;
            END IF;
            IF want_generation THEN
                RETURN QUERY SELECT 'g', x.generation::text, '', '', '' FROM policy x;
            END IF;
        END $$
        """,
        // One unit of work's writes in one call (FleetBatch.flush): each row's last state or a
        // counter's summed change; every array may be empty. With a token, the batch's closing
        // rows too: its token, the fleet's head, and the policy when it changed.
        """
        CREATE OR REPLACE FUNCTION dxcp_flush(
            r_minute bigint[], r_actor text[], r_bucket text[], r_delta bigint[],
            q_kind text[], q_scope text[], q_day bigint[], q_delta bigint[],
            f_kind text[], f_scope text[], f_floor bigint[],
            n_id text[], n_service text[], n_environment text[], n_group text[], n_state text[], n_kind text[], n_version text[],
            n_created bigint[], n_updated bigint[], n_execution text[], n_record text[],
            u_id text[], u_state text[], u_updated bigint[], u_execution text[], u_record text[],
            x_id text[],
            s_group text[], s_environment text[], s_id text[], s_state text[], s_updated bigint[], s_awaiting boolean[],
            t_group text[], t_environment text[], t_id text[],
            i_actor text[], i_endpoint text[], i_key text[], i_expires bigint[], i_record text[],
            j_actor text[], j_endpoint text[], j_key text[],
            o_id text[], o_actor text[], o_endpoint text[], o_key text[],
            p_id text[],
            h_hour bigint[], h_group text[], h_service text[], h_measure text[], h_label text[], h_delta bigint[],
            b_service text[], b_version text[], b_registered bigint[], b_build text[],
            a_sequence bigint[], a_timestamp bigint[], a_type text[], a_group text[], a_hash text[], a_entry text[],
            e_minute bigint[], e_actor text[], e_code text[], e_count bigint[], e_note text[],
            c_token text, c_at bigint, c_sequence bigint, c_hash text, c_generation bigint, c_policy text)
        RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
            IF cardinality(r_minute) > 0 THEN
                INSERT INTO rate_windows (minute, actor, bucket, count) SELECT * FROM unnest(r_minute, r_actor, r_bucket, r_delta)
                ON CONFLICT (minute, actor, bucket) DO UPDATE SET count = rate_windows.count + EXCLUDED.count;
            END IF;
            IF cardinality(q_kind) > 0 THEN
                INSERT INTO quota_counters (kind, scope, day, used) SELECT * FROM unnest(q_kind, q_scope, q_day, q_delta)
                ON CONFLICT (kind, scope, day) DO UPDATE SET used = quota_counters.used + EXCLUDED.used;
                DELETE FROM quota_counters y USING unnest(q_kind, q_scope, q_day, q_delta) AS k(kind, scope, day, delta)
                WHERE k.delta < 0 AND y.kind = k.kind AND y.scope = k.scope AND y.day = k.day AND y.used <= 0;
            END IF;
            IF cardinality(f_kind) > 0 THEN
                DELETE FROM quota_counters y USING unnest(f_kind, f_scope, f_floor) AS k(kind, scope, floor)
                WHERE y.kind = k.kind AND y.scope = k.scope AND y.day < k.floor;
            END IF;
            IF cardinality(n_id) > 0 THEN
                INSERT INTO deployments (id, service, environment, delivery_group, state, kind, version, created_at, updated_at, execution_id, record)
                SELECT k.id, k.service, k.environment, k.delivery_group, k.state, k.kind, k.version, k.created, k.updated, NULLIF(k.execution, ''), k.record::json
                FROM unnest(n_id, n_service, n_environment, n_group, n_state, n_kind, n_version, n_created, n_updated, n_execution, n_record)
                    AS k(id, service, environment, delivery_group, state, kind, version, created, updated, execution, record);
            END IF;
            IF cardinality(u_id) > 0 THEN
                UPDATE deployments y SET state = k.state, updated_at = k.updated, execution_id = NULLIF(k.execution, ''), record = k.record::json
                FROM unnest(u_id, u_state, u_updated, u_execution, u_record) AS k(id, state, updated, execution, record) WHERE y.id = k.id;
            END IF;
            IF cardinality(x_id) > 0 THEN
                DELETE FROM deployments WHERE id = ANY(x_id);
            END IF;
            IF cardinality(s_group) > 0 THEN
                INSERT INTO slots (delivery_group, environment, deployment_id, state, updated_at, awaiting_engine)
                SELECT * FROM unnest(s_group, s_environment, s_id, s_state, s_updated, s_awaiting)
                ON CONFLICT (delivery_group, environment, deployment_id) DO UPDATE
                SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at, awaiting_engine = EXCLUDED.awaiting_engine;
            END IF;
            IF cardinality(t_group) > 0 THEN
                DELETE FROM slots y USING unnest(t_group, t_environment, t_id) AS k(delivery_group, environment, deployment_id)
                WHERE y.delivery_group = k.delivery_group AND y.environment = k.environment AND y.deployment_id = k.deployment_id;
            END IF;
            IF cardinality(i_actor) > 0 THEN
                INSERT INTO idempotency (actor, endpoint, key, expires_at, record)
                SELECT k.actor, k.endpoint, k.key, k.expires, k.record::json FROM unnest(i_actor, i_endpoint, i_key, i_expires, i_record) AS k(actor, endpoint, key, expires, record)
                ON CONFLICT (actor, endpoint, key) DO UPDATE SET expires_at = EXCLUDED.expires_at, record = EXCLUDED.record;
            END IF;
            IF cardinality(j_actor) > 0 THEN
                DELETE FROM idempotency y USING unnest(j_actor, j_endpoint, j_key) AS k(actor, endpoint, key)
                WHERE y.actor = k.actor AND y.endpoint = k.endpoint AND y.key = k.key;
            END IF;
            IF cardinality(o_id) > 0 THEN
                INSERT INTO outbox (deployment_id, actor, endpoint, key) SELECT * FROM unnest(o_id, o_actor, o_endpoint, o_key)
                ON CONFLICT (deployment_id) DO UPDATE SET actor = EXCLUDED.actor, endpoint = EXCLUDED.endpoint, key = EXCLUDED.key;
            END IF;
            IF cardinality(p_id) > 0 THEN
                DELETE FROM outbox WHERE deployment_id = ANY(p_id);
            END IF;
            IF cardinality(h_hour) > 0 THEN
                INSERT INTO insights (hour, delivery_group, service, measure, label, count)
                SELECT * FROM unnest(h_hour, h_group, h_service, h_measure, h_label, h_delta)
                ON CONFLICT (hour, delivery_group, service, measure, label) DO UPDATE SET count = insights.count + EXCLUDED.count;
                DELETE FROM insights y USING unnest(h_hour, h_group, h_service, h_measure, h_label, h_delta) AS k(hour, delivery_group, service, measure, label, delta)
                WHERE k.delta < 0 AND y.hour = k.hour AND y.delivery_group = k.delivery_group AND y.service = k.service
                  AND y.measure = k.measure AND y.label = k.label AND y.count <= 0;
            END IF;
            IF cardinality(b_service) > 0 THEN
                INSERT INTO builds (service, version, registered_at, build)
                SELECT k.service, k.version, k.registered, k.build::json FROM unnest(b_service, b_version, b_registered, b_build) AS k(service, version, registered, build)
                ON CONFLICT (service, version) DO UPDATE SET registered_at = EXCLUDED.registered_at, build = EXCLUDED.build;
            END IF;
            IF cardinality(a_sequence) > 0 THEN
                INSERT INTO audit (sequence, timestamp, event_type, delivery_group, hash, entry)
                SELECT k.sequence, k.timestamp, k.type, NULLIF(k.delivery_group, ''), k.hash, k.entry::json
                FROM unnest(a_sequence, a_timestamp, a_type, a_group, a_hash, a_entry) AS k(sequence, timestamp, type, delivery_group, hash, entry);
            END IF;
            IF cardinality(e_minute) > 0 THEN
                INSERT INTO refusals (minute, actor, code, count, note)
                SELECT k.minute, k.actor, k.code, k.count, k.note::json FROM unnest(e_minute, e_actor, e_code, e_count, e_note) AS k(minute, actor, code, count, note)
                ON CONFLICT (minute, actor, code) DO UPDATE SET count = refusals.count + EXCLUDED.count;
            END IF;
            IF c_token <> '' THEN
                INSERT INTO batches (token, committed_at) VALUES (c_token, c_at);
                UPDATE fleet_head SET audit_sequence = c_sequence, audit_hash = c_hash, policy_generation = c_generation, commits = commits + 1;
                IF c_policy <> '' THEN
                    UPDATE policy SET generation = c_generation, snapshot = c_policy::json;
                END IF;
            END IF;
        END $$
        """,
    ]
}
