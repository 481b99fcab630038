-- Timelines (fan-out on write) for readers who follow thousands: tables `timelines` and
-- `timeline_posts` (migration timelines_for_heavy_readers).
--
-- A home feed is pulled: each page walks the posts of the people followed (app::db::posts).
-- For a reader who follows thousands, the cheapest walk still looks at about twenty posts per
-- post it keeps. For them, and only them, each new post of someone they follow is also
-- written into their timeline (posts.sql), and a page is a walk of that: a page's rows and
-- nothing else.
--
-- What a timeline holds, exactly: every post by its reader or by someone the reader follows
-- whose created_at is at or after its `complete_since`. The feed trusts a timeline page only
-- where that makes it whole (app::db::posts::timeline_page) and walks the posts otherwise, so
-- a timeline only ever makes a page faster, never different.
--
-- Who has one: a reader gets one when they follow their r.timeline_from()-th person (the
-- count at which the feed starts to read it, app::db::posts::TIMELINE_FROM, from which
-- app::db::logic writes that function), filled with the last 30 days, so starting one costs
-- what a month of posting by those people costs, whatever they posted before. It is kept when
-- they unfollow again: it stays exact.
--
-- Keeping it exact when a post and a follow (or a timeline's start) happen at the same moment:
-- each side writes what its own snapshot shows, so one must wait for the other to commit and
-- look again.
--   * a post and a follow or unfollow of its author: the post holds its author's row FOR SHARE
--     before its fan-out, the follow holds the same row FOR NO KEY UPDATE (for the counters)
--     before it adds or removes the author's posts. Whichever comes second waits, then reads
--     with a fresh snapshot what the first committed.
--   * a post and the start of a timeline: the start locks timeline_posts in SHARE ROW EXCLUSIVE
--     mode, which waits for every fan-out in flight to commit and holds new ones back until the
--     start commits (reads never wait).
-- The argument needs READ COMMITTED (a fresh snapshot per statement), so the functions refuse
-- to run under any other isolation level. The app's statements that change these tables
-- change one row each and take their rows of `users` before timeline_posts, so their waits
-- cannot form a cycle. A multi-row load or a deletion by hand can meet a timeline's start the
-- other way round; PostgreSQL then aborts one of the two (40P01) and nothing is half-done.
-- A start holds the table lock for its fill, about a month of posts by 2,000 people
-- (BENCHMARKS.md: 2,000 and 5,000 follows on the bench data), during which posts wait.

CREATE FUNCTION r.timelines_need_read_committed() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'timelines are kept under READ COMMITTED only, not %',
            current_setting('transaction_isolation');
    END IF;
END
$$;

-- `since` is there for the tests, whose posts are dated in the past.
CREATE FUNCTION r.start_timeline(reader bigint, since timestamptz DEFAULT now() - interval '30 days')
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM r.timelines_need_read_committed();
    -- The reader's follows cannot change under the fill: every follow locks its follower.
    PERFORM FROM users WHERE id = reader FOR NO KEY UPDATE;
    LOCK TABLE timeline_posts IN SHARE ROW EXCLUSIVE MODE;
    INSERT INTO timelines (reader_id, complete_since) VALUES (reader, since)
        ON CONFLICT (reader_id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    INSERT INTO timeline_posts (reader_id, post_id, created_at)
        SELECT reader, p.id, p.created_at
        FROM (SELECT followed_id AS author_id FROM followers WHERE follower_id = reader
              UNION ALL SELECT reader) AS authors
        JOIN posts p ON p.author_id = authors.author_id AND p.created_at >= since;
END
$$;

-- timeline_posts has no foreign keys (checking two per row made a start four times slower):
-- what their cascades would do, this trigger and posts.sql's `posts_leave_timelines` do.
CREATE FUNCTION r.timelines_leave_their_posts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM timeline_posts WHERE reader_id IN (SELECT reader_id FROM gone);
    RETURN NULL;
END
$$;

CREATE TRIGGER timelines_leave_their_posts AFTER DELETE ON timelines
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION r.timelines_leave_their_posts();

-- What a timeline must hold, as a query: the rows by which the timelines differ from it. Must
-- always be empty; the tests and the benchmark's soak check it.
CREATE VIEW r.timeline_discrepancies AS
WITH should AS (
    SELECT t.reader_id, p.id AS post_id, p.created_at
    FROM timelines t
    JOIN posts p ON p.created_at >= t.complete_since
     AND (p.author_id = t.reader_id
          OR EXISTS (SELECT FROM followers f
                     WHERE f.follower_id = t.reader_id AND f.followed_id = p.author_id))
), has AS (
    SELECT reader_id, post_id, created_at FROM timeline_posts
)
SELECT 'missing' AS wrong, reader_id, post_id FROM (SELECT * FROM should EXCEPT SELECT * FROM has) AS missing
UNION ALL
SELECT 'extra', reader_id, post_id FROM (SELECT * FROM has EXCEPT SELECT * FROM should) AS extra;
