-- Timelines (fan-out on write) for readers who follow thousands (issue #14).
--
-- A home feed is pulled: each page walks the posts of the people followed (app::db::posts).
-- For a reader who follows thousands, the cheapest walk still looks at about twenty posts per
-- post it keeps (p99 1.6–2.2 ms against a target of 1.5). For them, and only them, each new
-- post of someone they follow is also written into their timeline, and a page is a walk of
-- that: a page's rows and nothing else.
--
-- What a timeline holds, exactly: every post by its reader or by someone the reader follows
-- whose created_at is at or after its `complete_since`. The feed trusts a timeline page only
-- where that makes it whole (app::db::posts::timeline_page) and walks the posts otherwise, so
-- a timeline only ever makes a page faster, never different.
--
-- Who has one: a reader gets one when they follow their TIMELINE_FROM-th person (2,000, the
-- same count at which the feed starts to read it: app::db::posts::TIMELINE_FROM), filled with
-- the last 30 days, so starting one costs what a month of posting by those people costs,
-- whatever they posted before. It is kept when they unfollow again: it stays exact.
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

CREATE FUNCTION timelines_need_read_committed() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'timelines are kept under READ COMMITTED only, not %',
            current_setting('transaction_isolation');
    END IF;
END
$$;

CREATE TABLE timelines (
    reader_id      bigint      PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    complete_since timestamptz NOT NULL
);

-- No foreign keys: a row is derived from rows the triggers below have just read, and checking
-- two keys per row made a timeline's start four times slower (5,000 follows: 425 → 97 ms,
-- BENCHMARKS.md). What the cascades did, the triggers `posts_leave_timelines` and
-- `timelines_leave_their_posts` do, and `timeline_discrepancies` would show a row left behind.
CREATE TABLE timeline_posts (
    reader_id  bigint      NOT NULL,
    post_id    bigint      NOT NULL,
    -- The post's, copied so a page is one index range.
    created_at timestamptz NOT NULL,
    CONSTRAINT timeline_posts_pkey PRIMARY KEY (reader_id, post_id)
);

-- Serves a timeline page, newest first, keyset by (created_at, post_id), index-only.
CREATE INDEX timeline_posts_newest ON timeline_posts (reader_id, created_at DESC, post_id DESC);
-- Serves `posts_leave_timelines`.
CREATE INDEX timeline_posts_of_post ON timeline_posts (post_id);

-- `since` is there for the tests, whose posts are dated in the past.
CREATE FUNCTION start_timeline(reader bigint, since timestamptz DEFAULT now() - interval '30 days')
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM timelines_need_read_committed();
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

-- Keeps users.followers_count / following_count equal to the rows of `followers` (as
-- followers_maintain_counts did, which it replaces), and the follower's timeline exact.
CREATE FUNCTION followers_maintain_counts_and_timelines() RETURNS trigger
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
    -- cannot deadlock. The followed user's lock is also what a post by them waits for (above).
    PERFORM 1 FROM users WHERE id IN (link.follower_id, link.followed_id) ORDER BY id FOR NO KEY UPDATE;
    UPDATE users SET following_count = following_count + delta, home_version = home_version + 1
        WHERE id = link.follower_id
        RETURNING following_count INTO following_now;
    UPDATE users SET followers_count = followers_count + delta, home_version = home_version + 1
        WHERE id = link.followed_id;

    SELECT t.complete_since INTO since FROM timelines t WHERE t.reader_id = link.follower_id;
    IF FOUND THEN
        PERFORM timelines_need_read_committed();
        IF TG_OP = 'INSERT' THEN
            INSERT INTO timeline_posts (reader_id, post_id, created_at)
                SELECT link.follower_id, p.id, p.created_at FROM posts p
                WHERE p.author_id = link.followed_id AND p.created_at >= since;
        ELSE
            DELETE FROM timeline_posts tp USING posts p
                WHERE tp.reader_id = link.follower_id AND tp.post_id = p.id
                  AND p.author_id = link.followed_id AND p.created_at >= since;
        END IF;
    ELSIF TG_OP = 'INSERT' AND following_now >= 2000 THEN
        PERFORM start_timeline(link.follower_id);
    END IF;
    RETURN NULL;
END;
$$;

DROP TRIGGER followers_counts ON followers;
DROP FUNCTION followers_maintain_counts();
CREATE TRIGGER followers_counts_and_timelines
AFTER INSERT OR DELETE ON followers
FOR EACH ROW EXECUTE FUNCTION followers_maintain_counts_and_timelines();

CREATE FUNCTION posts_fan_out() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM timelines_need_read_committed();
    PERFORM FROM users WHERE id = NEW.author_id FOR SHARE;
    -- The insert below would take this lock too, before its snapshot; taken here it says so.
    LOCK TABLE timeline_posts IN ROW EXCLUSIVE MODE;
    -- A join, not an OR, so PostgreSQL may either probe each timeline's reader in
    -- `followers_pkey` or scan the author's followers, whichever is fewer.
    INSERT INTO timeline_posts (reader_id, post_id, created_at)
        SELECT t.reader_id, NEW.id, NEW.created_at
        FROM timelines t
        WHERE t.reader_id = NEW.author_id AND NEW.created_at >= t.complete_since
        UNION ALL
        SELECT t.reader_id, NEW.id, NEW.created_at
        FROM followers f JOIN timelines t ON t.reader_id = f.follower_id
        WHERE f.followed_id = NEW.author_id AND NEW.created_at >= t.complete_since;
    RETURN NULL;
END
$$;

CREATE TRIGGER posts_fan_out AFTER INSERT ON posts
    FOR EACH ROW EXECUTE FUNCTION posts_fan_out();

CREATE FUNCTION posts_leave_timelines() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM timeline_posts WHERE post_id IN (SELECT id FROM gone);
    RETURN NULL;
END
$$;

CREATE TRIGGER posts_leave_timelines AFTER DELETE ON posts
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION posts_leave_timelines();

CREATE FUNCTION timelines_leave_their_posts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM timeline_posts WHERE reader_id IN (SELECT reader_id FROM gone);
    RETURN NULL;
END
$$;

CREATE TRIGGER timelines_leave_their_posts AFTER DELETE ON timelines
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION timelines_leave_their_posts();

-- What a timeline must hold, as a query: the rows by which the timelines differ from it. Must
-- always be empty; the tests and the benchmark's soak check it.
CREATE VIEW timeline_discrepancies AS
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

-- Readers who already follow thousands.
SELECT start_timeline(id) FROM users WHERE following_count >= 2000;
