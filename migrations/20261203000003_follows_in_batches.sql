-- Follows and unfollows that arrive together are made together: one statement, one transaction
-- and one commit for all of them (issue #14). Under load a follow spent more on its round trip,
-- its statement's start and its commit than on the change; app::db::follows::FollowQueue
-- gathers the changes that arrive while the previous batch runs and sends them here at once.
-- A batch of one is how a single change is made, so every test of a follow runs this function.
--
-- Each change is answered as if it were made alone at its place in the batch: the other
-- person's counts are read right after it, by a statement of their own (READ COMMITTED: a fresh
-- snapshot, which sees everything committed before it and the batch's own earlier changes),
-- while every row those counts live in is locked until commit. So no change of the same link
-- from elsewhere can come in between, and a change that waited for another tab's change of the
-- same link answers with the counts that change left (the two tests of the seventh session's
-- lever 4 run through here).
--
-- Deadlocks: every call, a batch of one included, locks the users of every change it will
-- make, in id order, before it touches `followers`. So two calls wait for each other on the
-- lowest id they share, without a cycle (a lone change that wrote its `followers` row first
-- and then took its users' rows in the trigger could meet a batch holding those rows and
-- waiting for that link: tested). A post takes its author's row before timeline_posts, so it
-- waits for a call or a call for it. One cycle is still possible: two batches that each copied
-- posts into a timeline (ROW EXCLUSIVE on timeline_posts) and then each start one (SHARE ROW
-- EXCLUSIVE), which needs a reader's 2,000th follow in both at once. PostgreSQL aborts one of
-- them (40P01); nothing of it is kept, and FollowQueue makes its changes again one by one.
-- The old change_follow, still there for servers built before this migration, writes first
-- and locks after; while such a server runs beside a new one, the cycle above can abort one
-- of two changes of the same link (40P01, a 500 for that click).
--
-- Per change, `outcome` is
--   'done'           made (or nothing to make: already followed, or not followed), with the
--                    other person's id, name and counts after it;
--   'not_found'      nobody has that name;
--   'self'           the change names its own maker (following oneself is refused, and
--                    unfollowing oneself changes nothing; the caller says which);
--   'session_ended'  `acting_sessions[i]` was given and that session no longer exists or has
--                    expired (app::auth::SessionClaim), so a sign-out through any process is
--                    honoured by the next change. NULL means the caller loaded the session.
-- A change that is not 'done' changes nothing.

CREATE FUNCTION change_follows(
    actors bigint[],
    target_names text[],
    follows boolean[],
    acting_sessions text[]
)
RETURNS TABLE (
    ordinal integer,
    outcome text,
    id bigint,
    username text,
    followers_count bigint,
    following_count bigint
)
LANGUAGE plpgsql AS $$
DECLARE
    changes integer := cardinality(actors);
    targets bigint[] := array_fill(NULL::bigint, ARRAY[changes]);
    outcomes text[] := array_fill('done'::text, ARRAY[changes]);
    locked bigint[] := '{}';
    target_id bigint;
    i integer;
BEGIN
    IF cardinality(target_names) <> changes OR cardinality(follows) <> changes
        OR cardinality(acting_sessions) <> changes THEN
        RAISE EXCEPTION 'change_follows: % actors, % names, % directions, % sessions',
            changes, cardinality(target_names), cardinality(follows), cardinality(acting_sessions)
            USING ERRCODE = '22023';
    END IF;

    FOR i IN 1 .. changes LOOP
        IF acting_sessions[i] IS NOT NULL THEN
            PERFORM FROM tower_sessions.session s
                WHERE s.id = acting_sessions[i] AND s.expiry_date > now();
            IF NOT FOUND THEN
                outcomes[i] := 'session_ended';
                CONTINUE;
            END IF;
        END IF;
        SELECT u.id INTO target_id FROM users u WHERE lower(u.username) = lower(target_names[i]);
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
            RETURN QUERY SELECT i, outcomes[i], NULL::bigint, NULL::text, NULL::bigint, NULL::bigint;
            CONTINUE;
        END IF;
        IF follows[i] THEN
            INSERT INTO followers (follower_id, followed_id) VALUES (actors[i], targets[i])
                ON CONFLICT (follower_id, followed_id) DO NOTHING;
        ELSE
            DELETE FROM followers f WHERE f.follower_id = actors[i] AND f.followed_id = targets[i];
        END IF;
        RETURN QUERY
            SELECT i, 'done'::text, u.id, u.username, u.followers_count, u.following_count
            FROM users u WHERE u.id = targets[i];
    END LOOP;
END
$$;

-- change_follow (migration follow_answered_in_one_statement) is no longer called, but stays
-- while a server built before this migration may still be running beside a new one; a later
-- migration drops it.
