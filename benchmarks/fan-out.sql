-- What fan-out on write would cost on the benchmark's data set (SCALING.md section 4).
-- Run after `make bench`:  psql "$(scripts/pg.sh url microblog_bench)" -f benchmarks/fan-out.sql
-- It builds a timeline table from the newest posts, times the fan-out of posts by authors with
-- 100 and 5,000 followers, and a timeline read, then drops the table.
\timing on
DROP TABLE IF EXISTS timeline_probe;
CREATE TABLE timeline_probe (
    reader_id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    post_id bigint NOT NULL,
    PRIMARY KEY (reader_id, created_at, post_id)
);
-- A realistic index to insert into: the fan-out of the newest 20,000 seeded posts (~2M rows;
-- the posts the benchmark's own load made are left out, their authors are 64 users).
INSERT INTO timeline_probe
SELECT f.follower_id, p.created_at, p.id
FROM (SELECT id, author_id, created_at FROM posts WHERE body LIKE 'Post number %'
      ORDER BY created_at DESC LIMIT 20000) p
JOIN followers f ON f.followed_id = p.author_id;
VACUUM ANALYZE timeline_probe;
SELECT count(*) AS timeline_rows FROM timeline_probe;
-- Each fan-out is one statement writing a row per follower, as a post would.
-- Ids looked up once (the username index is on lower(username)).
SELECT (SELECT id FROM users WHERE lower(username) = 'bench500') AS typical_author,
       (SELECT id FROM users WHERE lower(username) = 'bench1') AS popular_author,
       (SELECT id FROM users WHERE lower(username) = 'bench10') AS typical_reader \gset
\echo 'fan-out, typical author (~100 followers), 5 posts:'
INSERT INTO timeline_probe SELECT f.follower_id, now(), 900000001 FROM followers f WHERE f.followed_id = :typical_author;
INSERT INTO timeline_probe SELECT f.follower_id, now(), 900000002 FROM followers f WHERE f.followed_id = :typical_author;
INSERT INTO timeline_probe SELECT f.follower_id, now(), 900000003 FROM followers f WHERE f.followed_id = :typical_author;
INSERT INTO timeline_probe SELECT f.follower_id, now(), 900000004 FROM followers f WHERE f.followed_id = :typical_author;
INSERT INTO timeline_probe SELECT f.follower_id, now(), 900000005 FROM followers f WHERE f.followed_id = :typical_author;
\echo 'fan-out, author with ~5,100 followers (bench1 after the live-feed benchmark), 5 posts:'
SELECT followers_count FROM users WHERE id = :popular_author;
INSERT INTO timeline_probe SELECT f.follower_id, now(), 900000011 FROM followers f WHERE f.followed_id = :popular_author;
INSERT INTO timeline_probe SELECT f.follower_id, now(), 900000012 FROM followers f WHERE f.followed_id = :popular_author;
INSERT INTO timeline_probe SELECT f.follower_id, now(), 900000013 FROM followers f WHERE f.followed_id = :popular_author;
INSERT INTO timeline_probe SELECT f.follower_id, now(), 900000014 FROM followers f WHERE f.followed_id = :popular_author;
INSERT INTO timeline_probe SELECT f.follower_id, now(), 900000015 FROM followers f WHERE f.followed_id = :popular_author;
\echo 'timeline read of a typical reader (bench10), the first page with posts and authors, 5 runs:'
PREPARE timeline_page(bigint) AS
SELECT p.id, u.username, p.body, p.created_at
FROM (SELECT post_id, created_at FROM timeline_probe WHERE reader_id = $1
      ORDER BY created_at DESC, post_id DESC LIMIT 21) t
JOIN posts p ON p.id = t.post_id JOIN users u ON u.id = p.author_id
ORDER BY t.created_at DESC, t.post_id DESC;
EXECUTE timeline_page(:typical_reader);
EXECUTE timeline_page(:typical_reader);
EXECUTE timeline_page(:typical_reader);
EXECUTE timeline_page(:typical_reader);
EXECUTE timeline_page(:typical_reader);
DROP TABLE timeline_probe;
