-- A username made only of dots ("." or "..") is a path segment to a browser: /user/.. collapses
-- to / and the profile can never be reached. The app refuses such names at sign-up; this makes
-- the database refuse them too.

-- Anyone who registered such a name before the rule keeps their account, under a reachable
-- name they can change later. Should that name be taken, the unique index stops the migration
-- and, the migration being one transaction, nothing changes.
UPDATE users SET username = 'user' || id || '-renamed' WHERE username ~ '^\.+$';

ALTER TABLE users ADD CONSTRAINT username_not_only_dots CHECK (username !~ '^\.+$');
