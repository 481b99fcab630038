-- The live home feed (issue #17): every new post and every follow change is announced with
-- NOTIFY at commit, so each server process's one listening connection learns of writes made
-- through any process (or by hand). Payloads are space-separated numbers, parsed by
-- app::db::live::parse:
--   microblog_posts   "<post id> <author id> <created_at in microseconds since 1970> <author's name>"
--                     (usernames have no spaces; the banner names who posted)
--   microblog_follows "<follower id> <followed id> <1 followed | 0 unfollowed>"
-- The scale seeder loads with session_replication_role = replica, which skips these triggers
-- as it skips the counters' (a million notifications nobody listens to).

CREATE FUNCTION announce_post() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('microblog_posts', NEW.id || ' ' || NEW.author_id || ' ' ||
        (extract(epoch FROM NEW.created_at) * 1000000)::bigint || ' ' ||
        (SELECT username FROM users WHERE id = NEW.author_id));
    RETURN NULL;
END
$$;

CREATE TRIGGER posts_announce AFTER INSERT ON posts
    FOR EACH ROW EXECUTE FUNCTION announce_post();

CREATE FUNCTION announce_follow_change() RETURNS trigger LANGUAGE plpgsql AS $$
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
    FOR EACH ROW EXECUTE FUNCTION announce_follow_change();
