-- Limits shared by every server process (app::db::limits, server::live).

-- Counts one use of `limit_key` in `rate_limits`, a generic cell rate algorithm: the key
-- allows `burst` at once and then one every `per_use`. Its row holds the time its bucket is
-- empty again (`tat`); a row whose `tat` has passed means a full bucket, and housekeeping
-- deletes it. NULL when the use is allowed (and counted), otherwise how long until it would
-- be; a refused use is not counted. The row lock taken by the upsert makes the count exact
-- across processes.
CREATE FUNCTION r.take_rate_limit(limit_key text, per_use interval, burst integer)
RETURNS interval
LANGUAGE plpgsql AS $$
DECLARE
    counted timestamptz;
    wait interval;
BEGIN
    INSERT INTO rate_limits AS r (key, tat) VALUES (limit_key, now() + per_use)
    ON CONFLICT (key) DO UPDATE SET tat = greatest(r.tat, now()) + per_use
        WHERE greatest(r.tat, now()) + per_use - now() <= per_use * burst
    RETURNING r.tat INTO counted;
    IF counted IS NOT NULL THEN
        RETURN NULL;
    END IF;
    SELECT greatest(r.tat, now()) + per_use - now() - per_use * burst INTO wait
    FROM rate_limits r WHERE r.key = limit_key;
    RETURN wait;
END
$$;

-- Registers a live stream for `reader` in `live_streams` unless they already hold `per_user`
-- live ones; its id, or NULL. A process renews the leases of the streams it holds, so a
-- stream of a process that died stops counting when its lease runs out. The advisory lock
-- makes two opens by one person at once count each other.
CREATE FUNCTION r.open_live_stream(reader bigint, per_user integer, lease interval)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    opened bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('live_streams', reader));
    IF (SELECT count(*) FROM live_streams s
        WHERE s.user_id = reader AND s.lease_until > now()) >= per_user THEN
        RETURN NULL;
    END IF;
    INSERT INTO live_streams (user_id, lease_until) VALUES (reader, now() + lease)
        RETURNING id INTO opened;
    RETURN opened;
END
$$;
