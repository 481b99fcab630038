-- What a profile edit does beyond its row: it tells the page cache (server/src/page_cache/,
-- app::db::page_stamps) that pages showing the person may be out of date.
--
-- users.home_version moves whenever something on a person's home page that concerns them
-- alone changes: whom they follow, who follows them (follows.sql moves it) and their own
-- name or profile (here). Every edit of anyone's name, email or about-me also counts in the
-- one row of `profile_edits`, so a kept page that may show that person is not served again:
-- edits are rare, so one count for all is enough. A row, not a sequence: a sequence moves when
-- `nextval` runs, not when the edit commits, and a page rendered in between would be kept
-- with the old name under the new number.

CREATE FUNCTION r.users_note_profile_edit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.home_version := OLD.home_version + 1;
    UPDATE profile_edits SET count = count + 1;
    RETURN NEW;
END
$$;

CREATE TRIGGER users_profile_edited BEFORE UPDATE OF username, email, about_me ON users
    FOR EACH ROW
    WHEN (OLD.username IS DISTINCT FROM NEW.username
          OR OLD.email IS DISTINCT FROM NEW.email
          OR OLD.about_me IS DISTINCT FROM NEW.about_me)
    EXECUTE FUNCTION r.users_note_profile_edit();
