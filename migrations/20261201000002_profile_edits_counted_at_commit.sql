-- `profile_edits` was a sequence, and a sequence moves when `nextval` runs, not when the edit
-- commits: a home page rendered in between read the person's old name with the new number, and
-- the page cache kept it as current. A counter row changes at commit, with the edit itself.
-- Edits are rare, so one row for all of them costs nothing worth counting.

DROP SEQUENCE profile_edits;

CREATE TABLE profile_edits (
    only_row boolean PRIMARY KEY DEFAULT true CONSTRAINT profile_edits_one_row CHECK (only_row),
    count    bigint  NOT NULL
);
INSERT INTO profile_edits (count) VALUES (0);

CREATE OR REPLACE FUNCTION users_note_profile_edit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.home_version := OLD.home_version + 1;
    UPDATE profile_edits SET count = count + 1;
    RETURN NEW;
END
$$;
