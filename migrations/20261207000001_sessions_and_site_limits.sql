-- Sessions in a table of our own, limits counted for the whole site, and follows named by id.
--
-- Sessions: app::db::sessions is the store. Its `save` only ever updates a record that still
-- exists under the same person, so a request that loaded a session before it was signed out
-- (deleted) or replaced (a sign-in cycles the id) can never write it back. The two values
-- read by SQL are columns of their own: who is signed in (change_follows checks it) and the
-- log position of the person's last change, which a save can only move forward. Every
-- session of the old store (tower-sessions-sqlx-store, data in MessagePack) ends here: its
-- people sign in again once.
CREATE TABLE sessions (
    id          text        PRIMARY KEY,
    user_id     bigint      REFERENCES users (id) ON DELETE CASCADE,
    -- pg_lsn as a number (app::db::replicas::WalPosition); i64::MAX means "unknown: read
    -- from the primary until the next change".
    last_change bigint,
    data        jsonb       NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX sessions_expiring ON sessions (expires_at);
CREATE INDEX sessions_of_user ON sessions (user_id) WHERE user_id IS NOT NULL;

DROP FUNCTION IF EXISTS change_follow(bigint, text, boolean, text);
DROP FUNCTION change_follows(bigint[], text[], boolean[], text[]);
DROP SCHEMA IF EXISTS tower_sessions CASCADE;

-- Limits shared by every server process: a generic cell rate algorithm per key. Each key holds
-- the time its bucket is empty again (`tat`); a row whose `tat` has passed means a full bucket,
-- and housekeeping deletes it.
CREATE TABLE rate_limits (
    key text        PRIMARY KEY,
    tat timestamptz NOT NULL
);
CREATE INDEX rate_limits_expiring ON rate_limits (tat);

-- Counts one use of `limit_key`, which allows `burst` at once and then one every `per_use`.
-- NULL when it is allowed (and counted), otherwise how long until it would be; a refused use
-- is not counted. The row lock taken by the upsert makes the count exact across processes.
CREATE FUNCTION take_rate_limit(limit_key text, per_use interval, burst integer)
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

-- Open live streams (server::live), for a cap per person that holds across processes. A
-- process renews the lease of the streams it holds; a stream of a process that died stops
-- counting when its lease runs out.
CREATE TABLE live_streams (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    lease_until timestamptz NOT NULL
);
CREATE INDEX live_streams_of_user ON live_streams (user_id, lease_until);

-- Registers a stream for `reader` unless they already hold `per_user` live ones; its id, or
-- NULL. The advisory lock makes two opens by one person at once count each other.
CREATE FUNCTION open_live_stream(reader bigint, per_user integer, lease interval)
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

-- Follows and unfollows, alone or in batches (app::db::follow_queue): one statement, one
-- transaction and one commit for every change that waited. Each change is answered as if it
-- were made alone at its place in the batch: the other person's counts are read right after
-- it, by a statement of its own (READ COMMITTED: a fresh snapshot, which sees everything
-- committed before it and the batch's own earlier changes), while every row those counts live
-- in is locked until commit.
--
-- A change names its target by id (`target_ids[i]`, what a page's button was drawn for) or,
-- when that is NULL, by name (`target_names[i]`); the answer names the person as they are now.
-- So a button drawn before a rename, whose name someone else has since taken, follows the
-- person it was drawn for.
--
-- Deadlocks: every call locks the users of every change it will make, in id order, before it
-- touches `followers` or `rate_limits`, so two calls wait for each other on the lowest id they
-- share, without a cycle, and two calls with one actor in common never reach that actor's
-- limit row in opposite orders. A post takes its author's row before timeline_posts, so it
-- waits for a call or a call for it. One cycle remains: two batches that each copied posts
-- into a timeline (ROW EXCLUSIVE on timeline_posts) and then each start one (SHARE ROW
-- EXCLUSIVE). PostgreSQL aborts one of them (40P01), nothing of it is kept, and FollowQueue
-- makes its changes again one by one.
--
-- Limits, NULL for none: `changes_burst` changes per actor at once, then one every
-- `per_change` (counted in rate_limits under 'follow_changes:' and the actor's id, so for the
-- whole site); and a new follow is refused once the actor follows
-- greatest(`following_cap`, 1.1 × their followers) people.
--
-- Per change, `outcome` is
--   'done'           made (or nothing to make: already followed, or not followed), with the
--                    other person's id, name and counts after it;
--   'not_found'      nobody has that id or name;
--   'self'           the change names its own maker;
--   'session_ended'  `acting_sessions[i]` was given and that session no longer exists for
--                    this actor or has expired (app::auth::SessionClaim). NULL means the
--                    caller loaded the session;
--   'too_many'       over the actor's limit; `retry_after` says for how long;
--   'following_cap'  a new follow past the cap; `following_count` is the cap.
-- A change that is not 'done' changes nothing.
CREATE FUNCTION change_follows(
    actors bigint[],
    target_ids bigint[],
    target_names text[],
    follows boolean[],
    acting_sessions text[],
    changes_burst integer,
    per_change interval,
    following_cap integer
)
RETURNS TABLE (
    ordinal integer,
    outcome text,
    id bigint,
    username text,
    followers_count bigint,
    following_count bigint,
    retry_after interval
)
LANGUAGE plpgsql AS $$
DECLARE
    changes integer := cardinality(actors);
    targets bigint[] := array_fill(NULL::bigint, ARRAY[changes]);
    outcomes text[] := array_fill('done'::text, ARRAY[changes]);
    locked bigint[] := '{}';
    target_id bigint;
    wait interval;
    cap bigint;
    already_following bigint;
    i integer;
BEGIN
    IF cardinality(target_ids) <> changes OR cardinality(target_names) <> changes
        OR cardinality(follows) <> changes OR cardinality(acting_sessions) <> changes THEN
        RAISE EXCEPTION 'change_follows: % actors, % ids, % names, % directions, % sessions',
            changes, cardinality(target_ids), cardinality(target_names), cardinality(follows),
            cardinality(acting_sessions)
            USING ERRCODE = '22023';
    END IF;

    FOR i IN 1 .. changes LOOP
        IF acting_sessions[i] IS NOT NULL THEN
            PERFORM FROM sessions s
                WHERE s.id = acting_sessions[i] AND s.user_id = actors[i]
                  AND s.expires_at > now();
            IF NOT FOUND THEN
                outcomes[i] := 'session_ended';
                CONTINUE;
            END IF;
        END IF;
        IF target_ids[i] IS NOT NULL THEN
            SELECT u.id INTO target_id FROM users u WHERE u.id = target_ids[i];
        ELSE
            SELECT u.id INTO target_id FROM users u
                WHERE lower(u.username) = lower(target_names[i]);
        END IF;
        IF NOT FOUND THEN
            outcomes[i] := 'not_found';
        ELSIF target_id = actors[i] THEN
            outcomes[i] := 'self';
        ELSE
            targets[i] := target_id;
            locked := locked || actors[i] || target_id;
        END IF;
    END LOOP;

    PERFORM FROM users u WHERE u.id = ANY (locked) ORDER BY u.id FOR NO KEY UPDATE;

    FOR i IN 1 .. changes LOOP
        IF outcomes[i] <> 'done' THEN
            RETURN QUERY SELECT i, outcomes[i], NULL::bigint, NULL::text, NULL::bigint,
                NULL::bigint, NULL::interval;
            CONTINUE;
        END IF;
        IF follows[i] AND following_cap IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM followers f
                            WHERE f.follower_id = actors[i] AND f.followed_id = targets[i]) THEN
            SELECT greatest(following_cap, ceil(u.followers_count * 1.1)::bigint),
                   u.following_count
                INTO cap, already_following
                FROM users u WHERE u.id = actors[i];
            IF already_following >= cap THEN
                RETURN QUERY SELECT i, 'following_cap'::text, NULL::bigint, NULL::text,
                    NULL::bigint, cap, NULL::interval;
                CONTINUE;
            END IF;
        END IF;
        IF changes_burst IS NOT NULL THEN
            wait := take_rate_limit('follow_changes:' || actors[i], per_change, changes_burst);
            IF wait IS NOT NULL THEN
                RETURN QUERY SELECT i, 'too_many'::text, NULL::bigint, NULL::text, NULL::bigint,
                    NULL::bigint, wait;
                CONTINUE;
            END IF;
        END IF;
        IF follows[i] THEN
            INSERT INTO followers (follower_id, followed_id) VALUES (actors[i], targets[i])
                ON CONFLICT (follower_id, followed_id) DO NOTHING;
        ELSE
            DELETE FROM followers f WHERE f.follower_id = actors[i] AND f.followed_id = targets[i];
        END IF;
        RETURN QUERY
            SELECT i, 'done'::text, u.id, u.username, u.followers_count, u.following_count,
                NULL::interval
            FROM users u WHERE u.id = targets[i];
    END LOOP;
END
$$;
