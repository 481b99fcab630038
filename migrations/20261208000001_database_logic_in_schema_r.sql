-- The database's functions, triggers and views move to schema `r`, which app::db::logic
-- recreates from app/src/db/logic/*.sql whenever those files change, in the same transaction
-- as the migrations (so no moment exists without them). Migrations keep the tables; the
-- current code of the database lives in one place. What moved is dropped here.
DROP TRIGGER posts_announce ON posts;
DROP TRIGGER posts_fan_out ON posts;
DROP TRIGGER posts_leave_timelines ON posts;
DROP TRIGGER followers_announce ON followers;
DROP TRIGGER followers_counts_and_timelines ON followers;
DROP TRIGGER users_profile_edited ON users;
DROP TRIGGER timelines_leave_their_posts ON timelines;
DROP VIEW timeline_discrepancies;
DROP FUNCTION announce_post();
DROP FUNCTION posts_fan_out();
DROP FUNCTION posts_leave_timelines();
DROP FUNCTION announce_follow_change();
DROP FUNCTION followers_maintain_counts_and_timelines();
DROP FUNCTION users_note_profile_edit();
DROP FUNCTION timelines_leave_their_posts();
DROP FUNCTION start_timeline(bigint, timestamptz);
DROP FUNCTION timelines_need_read_committed();
DROP FUNCTION take_rate_limit(text, interval, integer);
DROP FUNCTION open_live_stream(bigint, integer, interval);
DROP FUNCTION change_follows(bigint[], bigint[], text[], boolean[], text[], integer, interval, integer);
