-- Who to follow, remembered per reader. Ranking suggestions reads hundreds of rows (3-7 ms on
-- the benchmark's graph); the home page is shown far more often than the neighbourhood
-- changes, so a reader's ranking is kept (up to 10 minutes; see db::follows::suggestions for
-- when a follow brings a new one) by whichever server process ranked it, and shared by all.
--
-- It is never wrong, only a little old: every read drops anyone the reader follows by then,
-- and following_count records what the list was computed for, so a follow or an unfollow
-- brings a fresh list soon (see db::follows::suggestions) without any extra write on the
-- follow itself.
CREATE TABLE suggestions (
    user_id         bigint      PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    -- Best first. Ids of users deleted since are simply not found.
    suggested       bigint[]    NOT NULL,
    following_count bigint      NOT NULL,
    computed_at     timestamptz NOT NULL DEFAULT now()
);
