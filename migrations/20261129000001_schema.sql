-- Microblog schema: users, their posts, and who follows whom (SPEC.md §1).

CREATE TABLE users (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username        text        NOT NULL
        CONSTRAINT username_format CHECK (username ~ '^[A-Za-z0-9_.-]{1,64}$'),
    email           text        NOT NULL
        CONSTRAINT email_length CHECK (char_length(email) BETWEEN 3 AND 254),
    password_hash   text        NOT NULL,
    about_me        text
        CONSTRAINT about_me_length CHECK (char_length(about_me) <= 140),
    last_seen       timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- Kept by the trigger on `followers` in the same transaction as the link, so a profile
    -- shows the counts of a user with a million followers without counting a million rows.
    followers_count bigint      NOT NULL DEFAULT 0 CONSTRAINT followers_count_not_negative CHECK (followers_count >= 0),
    following_count bigint      NOT NULL DEFAULT 0 CONSTRAINT following_count_not_negative CHECK (following_count >= 0)
);

-- Usernames and emails are unique ignoring case; every lookup by name goes through lower().
CREATE UNIQUE INDEX users_username_unique ON users (lower(username));
CREATE UNIQUE INDEX users_email_unique ON users (lower(email));

CREATE TABLE posts (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    author_id  bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body       text        NOT NULL
        CONSTRAINT post_body_length CHECK (char_length(body) BETWEEN 1 AND 280),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Serves a profile's posts and the home feed's per-author walk, newest first, keyset by (created_at, id).
CREATE INDEX posts_author_newest ON posts (author_id, created_at DESC, id DESC);
-- Serves /explore, and the heavy-user feed plan that walks all posts newest first and keeps
-- those by followed authors: author_id is included so that walk never touches the heap.
CREATE INDEX posts_newest ON posts (created_at DESC, id DESC) INCLUDE (author_id);

CREATE TABLE followers (
    -- Column order serves the hottest query: "whom does this user follow" (the feed, is_following).
    follower_id bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    followed_id bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT followers_pkey PRIMARY KEY (follower_id, followed_id),
    CONSTRAINT user_cannot_follow_self CHECK (follower_id <> followed_id)
);

-- Serves a user's followers list, newest link first, and the cascade when a followed user goes.
CREATE INDEX followers_of_user_newest ON followers (followed_id, created_at DESC, follower_id DESC);
-- Serves a user's following list, newest link first.
CREATE INDEX following_of_user_newest ON followers (follower_id, created_at DESC, followed_id DESC);

-- Keeps users.followers_count / following_count equal to the rows of `followers`.
CREATE FUNCTION followers_maintain_counts() RETURNS trigger
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
    UPDATE users SET following_count = following_count + delta WHERE id = link.follower_id;
    UPDATE users SET followers_count = followers_count + delta WHERE id = link.followed_id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER followers_counts
AFTER INSERT OR DELETE ON followers
FOR EACH ROW EXECUTE FUNCTION followers_maintain_counts();
