-- A follow or unfollow, the check of the session it is made for, and the counts it answers
-- with, in one statement (issue #14). It was three: the session's load, the change, and a read
-- of the counts after the change had committed.
--
-- The counts must be the link's as it ends up: a change that waited for another tab's change
-- of the same link to commit must not answer from the snapshot it began with. Each statement
-- of this function takes its own snapshot (READ COMMITTED), so the final read sees every change
-- committed before it, and the change's own trigger holds the other person's row locked until
-- commit: nobody can move those counts in between, so they are the counts at commit.
--
-- `acting_session`, when given, is the id of the session the request claims to be signed in
-- with (app::auth::SessionClaim): the change is refused with SQLSTATE MB401 unless that session
-- still exists and has not expired, so a sign-out through any server process is honoured by
-- the next change however it arrives. NULL means the caller loaded the session itself.
--
-- No row when nobody has that name. Following oneself fails on `user_cannot_follow_self`;
-- unfollowing oneself changes nothing, and the caller refuses it.

-- The session store's table, exactly as tower-sessions-sqlx-store's `migrate` creates it (which
-- still runs after these migrations, and finds it made), so that this function and the tests'
-- databases know it.
CREATE SCHEMA IF NOT EXISTS tower_sessions;
CREATE TABLE IF NOT EXISTS tower_sessions.session (
    id          text PRIMARY KEY NOT NULL,
    data        bytea NOT NULL,
    expiry_date timestamptz NOT NULL
);

CREATE OR REPLACE FUNCTION change_follow(me bigint, target_name text, follow boolean, acting_session text)
RETURNS TABLE (id bigint, username text, followers_count bigint, following_count bigint)
LANGUAGE plpgsql AS $$
DECLARE
    target_id bigint;
BEGIN
    IF acting_session IS NOT NULL THEN
        PERFORM FROM tower_sessions.session s
            WHERE s.id = acting_session AND s.expiry_date > now();
        IF NOT FOUND THEN
            RAISE EXCEPTION 'the session has ended' USING ERRCODE = 'MB401';
        END IF;
    END IF;
    SELECT u.id INTO target_id FROM users u WHERE lower(u.username) = lower(target_name);
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF follow THEN
        INSERT INTO followers (follower_id, followed_id) VALUES (me, target_id)
            ON CONFLICT (follower_id, followed_id) DO NOTHING;
    ELSE
        DELETE FROM followers f WHERE f.follower_id = me AND f.followed_id = target_id;
    END IF;
    RETURN QUERY
        SELECT u.id, u.username, u.followers_count, u.following_count
        FROM users u WHERE u.id = target_id;
END
$$;
