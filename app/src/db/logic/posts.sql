-- What a new or deleted post does beyond its row: it is announced to every server process
-- (the live home feed, server::live) and copied into the timelines of heavy readers
-- (timelines.sql).
--
-- Announcements are NOTIFYs, sent at commit, so each process's one listening connection
-- learns of posts made through any process (or by hand). The payload is space-separated,
-- parsed by app::db::live::parse:
--   microblog_posts "<post id> <author id> <created_at in microseconds since 1970> <author's name>"
-- (usernames have no spaces; the banner names who posted). The scale seeder loads with
-- session_replication_role = replica, which skips these triggers: a million notifications
-- nobody listens to, and timelines it fills itself.

CREATE FUNCTION r.announce_post() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('microblog_posts', NEW.id || ' ' || NEW.author_id || ' ' ||
        (extract(epoch FROM NEW.created_at) * 1000000)::bigint || ' ' ||
        (SELECT username FROM users WHERE id = NEW.author_id));
    RETURN NULL;
END
$$;

CREATE TRIGGER posts_announce AFTER INSERT ON posts
    FOR EACH ROW EXECUTE FUNCTION r.announce_post();

CREATE FUNCTION r.posts_fan_out() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM r.timelines_need_read_committed();
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
    FOR EACH ROW EXECUTE FUNCTION r.posts_fan_out();

CREATE FUNCTION r.posts_leave_timelines() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM timeline_posts WHERE post_id IN (SELECT id FROM gone);
    RETURN NULL;
END
$$;

CREATE TRIGGER posts_leave_timelines AFTER DELETE ON posts
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION r.posts_leave_timelines();
