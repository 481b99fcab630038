-- Each post records the transaction that wrote it, so the page cache can tell whether a post
-- was visible when a kept page was known complete, whatever time it began and however long it
-- waited to commit (app::db::page_stamps). A post is new to a page known complete at snapshot
-- S exactly when its transaction is not visible in S; all of those have txid >= xmin(S), a
-- short range at the end of this index.
--
-- Posts written before this migration committed long ago: their txid stays NULL, and no
-- check ever looks at them.
ALTER TABLE posts ADD COLUMN txid xid8;
ALTER TABLE posts ALTER COLUMN txid SET DEFAULT pg_current_xact_id();
CREATE INDEX posts_by_transaction ON posts (txid);
