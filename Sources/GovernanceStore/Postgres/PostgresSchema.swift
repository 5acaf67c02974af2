/// The tables of a fleet's PostgreSQL database: one readable table per kind of state, so an
/// operator can query it with `psql`. Keys compare byte for byte (`COLLATE "C"`), as in LMDB.
/// Times are microseconds since the epoch (`bigint`), records and entries `jsonb`.
enum PostgresSchema {
    /// The version this build writes; `migrate-schema` brings an older database to it.
    static let version = 1

    /// Schema 1, in order. Every statement can run again on a database that has it.
    static let version1: [String] = [
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
            snapshot jsonb NOT NULL)
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
            record jsonb NOT NULL)
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
            record jsonb NOT NULL,
            PRIMARY KEY (actor, endpoint, key))
        """,
        "CREATE INDEX IF NOT EXISTS idempotency_by_expiry ON idempotency (expires_at)",
        """
        CREATE TABLE IF NOT EXISTS builds (
            service text COLLATE "C" NOT NULL,
            version text COLLATE "C" NOT NULL,
            registered_at bigint NOT NULL,
            build jsonb NOT NULL,
            PRIMARY KEY (service, version))
        """,
        """
        CREATE TABLE IF NOT EXISTS upload_capabilities (
            service text COLLATE "C" NOT NULL,
            version text COLLATE "C" NOT NULL,
            token text COLLATE "C" NOT NULL,
            expires_at bigint NOT NULL,
            capability jsonb NOT NULL,
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
            entry jsonb NOT NULL)
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
            note jsonb NOT NULL,
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
    ]
}
