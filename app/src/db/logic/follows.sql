-- Follows: every change of `followers` is made by r.change_follows, and whatever else a
-- change moves is moved by the triggers below, at the same commit: both people's counts and
-- `home_version` (what the page cache checks), the follower's timeline (timelines.sql), and
-- the announcement to every server process (the live home feed).

-- Keeps users.followers_count and following_count equal to the rows of `followers`, and the
-- follower's timeline exact; starts a timeline for whoever comes to follow
-- r.timeline_from() people.
CREATE FUNCTION r.followers_keep_counts_and_timelines() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    delta          bigint;
    link           followers%ROWTYPE;
    following_now  bigint;
    since          timestamptz;
BEGIN
    IF TG_OP = 'INSERT' THEN
        delta := 1;
        link := NEW;
    ELSE
        delta := -1;
        link := OLD;
    END IF;
    -- Lock both users in id order so that A follows B and B follows A at the same moment
    -- cannot deadlock. The followed user's lock is also what a post by them waits for
    -- (timelines.sql).
    PERFORM 1 FROM users WHERE id IN (link.follower_id, link.followed_id) ORDER BY id FOR NO KEY UPDATE;
    UPDATE users SET following_count = following_count + delta, home_version = home_version + 1
        WHERE id = link.follower_id
        RETURNING following_count INTO following_now;
    UPDATE users SET followers_count = followers_count + delta, home_version = home_version + 1
        WHERE id = link.followed_id;

    SELECT t.complete_since INTO since FROM timelines t WHERE t.reader_id = link.follower_id;
    IF FOUND THEN
        PERFORM r.timelines_need_read_committed();
        IF TG_OP = 'INSERT' THEN
            INSERT INTO timeline_posts (reader_id, post_id, created_at)
                SELECT link.follower_id, p.id, p.created_at FROM posts p
                WHERE p.author_id = link.followed_id AND p.created_at >= since;
        ELSE
            DELETE FROM timeline_posts tp USING posts p
                WHERE tp.reader_id = link.follower_id AND tp.post_id = p.id
                  AND p.author_id = link.followed_id AND p.created_at >= since;
        END IF;
    ELSIF TG_OP = 'INSERT' AND following_now >= r.timeline_from() THEN
        PERFORM r.start_timeline(link.follower_id);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER followers_counts_and_timelines
AFTER INSERT OR DELETE ON followers
FOR EACH ROW EXECUTE FUNCTION r.followers_keep_counts_and_timelines();

-- Announced at commit to every server process (posts.sql says how), parsed by
-- app::db::live::parse:
--   microblog_follows "<follower id> <followed id> <1 followed | 0 unfollowed>"
CREATE FUNCTION r.announce_follow_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM pg_notify('microblog_follows', NEW.follower_id || ' ' || NEW.followed_id || ' 1');
    ELSE
        PERFORM pg_notify('microblog_follows', OLD.follower_id || ' ' || OLD.followed_id || ' 0');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER followers_announce AFTER INSERT OR DELETE ON followers
    FOR EACH ROW EXECUTE FUNCTION r.announce_follow_change();

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
CREATE FUNCTION r.change_follows(
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
            wait := r.take_rate_limit('follow_changes:' || actors[i], per_change, changes_burst);
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
