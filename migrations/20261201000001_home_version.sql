-- What a cached home page is checked against (issue #14, server/src/page_cache.rs). Each
-- server process keeps the last home page it rendered for a reader and serves it again only
-- while the database says nothing on it has changed, so a change made through any process, or
-- by hand, is seen at the reader's next view.
--
-- users.home_version moves whenever something on a person's home page that concerns them
-- alone changes: whom they follow (the feed, Who to follow), who follows them ("Follows you"),
-- and their own name or profile. New posts are found by their ids instead (see
-- app::db::users::home_stamp), and other people's profile edits by `profile_edits`.

ALTER TABLE users ADD COLUMN home_version bigint NOT NULL DEFAULT 0;

-- Every edit of anyone's name, email (the avatar) or about-me takes a number, so a cached page
-- that may show that person is not served again: edits are rare, so one number for all is
-- enough.
CREATE SEQUENCE profile_edits;

CREATE OR REPLACE FUNCTION followers_maintain_counts() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    delta  bigint;
    link   followers%ROWTYPE;
BEGIN
    IF TG_OP = 'INSERT' THEN
        delta := 1;
        link := NEW;
    ELSE
        delta := -1;
        link := OLD;
    END IF;
    -- Lock both users in id order so that A follows B and B follows A at the same moment
    -- cannot deadlock.
    PERFORM 1 FROM users WHERE id IN (link.follower_id, link.followed_id) ORDER BY id FOR NO KEY UPDATE;
    UPDATE users SET following_count = following_count + delta, home_version = home_version + 1
        WHERE id = link.follower_id;
    UPDATE users SET followers_count = followers_count + delta, home_version = home_version + 1
        WHERE id = link.followed_id;
    RETURN NULL;
END;
$$;

CREATE FUNCTION users_note_profile_edit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.home_version := OLD.home_version + 1;
    PERFORM nextval('profile_edits');
    RETURN NEW;
END
$$;

CREATE TRIGGER users_profile_edited BEFORE UPDATE OF username, email, about_me ON users
    FOR EACH ROW
    WHEN (OLD.username IS DISTINCT FROM NEW.username
          OR OLD.email IS DISTINCT FROM NEW.email
          OR OLD.about_me IS DISTINCT FROM NEW.about_me)
    EXECUTE FUNCTION users_note_profile_edit();
