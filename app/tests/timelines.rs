//! Timelines, the home feed kept on write for readers who follow thousands (migration
//! `timelines_for_heavy_readers`): what one holds stays exact through follows, unfollows, posts
//! and deletions, also when they happen at the same moment, and the feed reads it only where it
//! is whole.

mod common;

use app::db::follows;
use app::db::posts::{self, FeedWalk, TIMELINE_FROM};
use app::model::{PageRequest, UserId};
use common::{cursor_of, delete_user, name, post_at, statements_waiting_for_locks, user};
use sqlx::PgPool;
use std::time::Duration;

/// Starts `reader`'s timeline complete from `seconds` after the instant `post_at` counts from.
async fn start_timeline(pool: &PgPool, reader: UserId, seconds: i64) {
    sqlx::query(
        "SELECT r.start_timeline($1, timestamptz '2026-01-01 00:00:00+00' + $2 * interval '1 second')",
    )
    .bind(reader.get())
    .bind(seconds as f64)
    .execute(pool)
    .await
    .unwrap();
}

/// Rows by which the timelines differ from what they must hold (the view says what that is).
async fn timeline_errors(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT wrong || ': reader ' || reader_id || ', post ' || post_id FROM r.timeline_discrepancies",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn timeline_size(pool: &PgPool, reader: UserId) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM timeline_posts WHERE reader_id = $1")
        .bind(reader.get())
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn first_page_ids(pool: &PgPool, me: UserId, walk: FeedWalk) -> Vec<i64> {
    posts::followed_posts_by(pool, me, walk, PageRequest::First)
        .await
        .unwrap()
        .items
        .iter()
        .map(|post| post.id)
        .collect()
}

#[sqlx::test(migrator = "app::db::MIGRATOR")]
async fn a_timeline_holds_exactly_the_feed_since_it_began_through_every_change(pool: PgPool) {
    let reader = user(&pool, "reader").await;
    let alice = user(&pool, "alice").await;
    let bob = user(&pool, "bob").await;
    let carol = user(&pool, "carol").await;
    let stranger = user(&pool, "stranger").await;
    follows::follow(&pool, reader, &name("alice"))
        .await
        .unwrap();
    follows::follow(&pool, reader, &name("bob")).await.unwrap();
    for (author, label) in [
        (alice, "alice"),
        (bob, "bob"),
        (carol, "carol"),
        (stranger, "stranger"),
        (reader, "reader"),
    ] {
        for seconds in [10, 100, 200] {
            post_at(&pool, author, &format!("{label} at {seconds}"), seconds).await;
        }
    }

    start_timeline(&pool, reader, 50).await;
    // alice, bob and the reader, at 100 and 200; not the posts before the timeline began.
    assert_eq!(timeline_size(&pool, reader).await, 6);
    assert!(timeline_errors(&pool).await.is_empty());

    follows::follow(&pool, reader, &name("carol"))
        .await
        .unwrap();
    assert_eq!(timeline_size(&pool, reader).await, 8, "carol's two came in");
    follows::unfollow(&pool, reader, &name("bob"))
        .await
        .unwrap();
    assert_eq!(timeline_size(&pool, reader).await, 6, "bob's two went");
    assert!(timeline_errors(&pool).await.is_empty());

    post_at(&pool, carol, "carol later", 300).await;
    post_at(&pool, bob, "bob later", 300).await;
    post_at(&pool, stranger, "stranger later", 300).await;
    post_at(&pool, reader, "reader later", 300).await;
    post_at(&pool, alice, "alice, dated before the timeline", 20).await;
    assert_eq!(timeline_size(&pool, reader).await, 8, "carol's and mine");
    assert!(timeline_errors(&pool).await.is_empty());

    delete_user(&pool, alice).await;
    assert_eq!(
        timeline_size(&pool, reader).await,
        6,
        "alice's posts went with her"
    );
    assert!(timeline_errors(&pool).await.is_empty());
    delete_user(&pool, reader).await;
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM timeline_posts")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "a reader's timeline goes with them");
}

#[sqlx::test(migrator = "app::db::MIGRATOR")]
async fn a_page_the_timeline_holds_is_read_from_it_and_one_it_does_not_is_walked(pool: PgPool) {
    let me = user(&pool, "me").await;
    let author = user(&pool, "author").await;
    follows::follow(&pool, me, &name("author")).await.unwrap();
    let mut ids = Vec::new();
    for n in 0..60 {
        ids.push(post_at(&pool, author, &format!("post {n}"), n).await);
    }
    ids.reverse();
    // Complete from post 30 on: the first page (59…40) is inside, the third (19…0) is not.
    start_timeline(&pool, me, 30).await;
    assert_eq!(
        first_page_ids(&pool, me, FeedWalk::Timeline).await,
        ids[..20]
    );

    // Take one post out of the timeline behind the triggers' back: a page read from the
    // timeline no longer shows it, which proves it is read from there.
    sqlx::query("DELETE FROM timeline_posts WHERE post_id = $1")
        .bind(ids[5])
        .execute(&pool)
        .await
        .unwrap();
    let from_timeline = first_page_ids(&pool, me, FeedWalk::Timeline).await;
    assert!(!from_timeline.contains(&ids[5]));
    assert_eq!(from_timeline.len(), 20);
    assert_eq!(
        first_page_ids(&pool, me, FeedWalk::AllPostsProbed).await,
        ids[..20],
        "the walk is unaffected"
    );

    // A newer page from inside the timeline is read from it too: the row taken out is missing.
    let newer_from_timeline = posts::followed_posts_by(
        &pool,
        me,
        FeedWalk::Timeline,
        PageRequest::NewerThan(cursor_of(&pool, ids[25]).await),
    )
    .await
    .unwrap();
    assert_eq!(
        newer_from_timeline
            .items
            .iter()
            .map(|post| post.id)
            .collect::<Vec<_>>(),
        // The twenty oldest past the cursor, from a timeline that lacks post 5.
        [&ids[4..5], &ids[6..25]].concat()
    );

    // The third page reaches past where the timeline is complete, so it is walked: whole.
    let second = posts::followed_posts_by(&pool, me, FeedWalk::PerAuthor, PageRequest::First)
        .await
        .unwrap();
    let second = posts::followed_posts_by(
        &pool,
        me,
        FeedWalk::PerAuthor,
        PageRequest::OlderThan(second.older.unwrap()),
    )
    .await
    .unwrap();
    let third = posts::followed_posts_by(
        &pool,
        me,
        FeedWalk::Timeline,
        PageRequest::OlderThan(second.older.unwrap()),
    )
    .await
    .unwrap();
    assert_eq!(
        third.items.iter().map(|post| post.id).collect::<Vec<_>>(),
        ids[40..]
    );
}

#[sqlx::test(migrator = "app::db::MIGRATOR")]
async fn following_the_two_thousandth_person_starts_a_timeline_of_the_last_month(pool: PgPool) {
    let reader = user(&pool, "reader").await;
    sqlx::query(
        "INSERT INTO users (username, email, password_hash)
         SELECT 'u' || g, 'u' || g || '@example.com', 'x' FROM generate_series(1, $1) AS g",
    )
    .bind(TIMELINE_FROM)
    .execute(&pool)
    .await
    .unwrap();
    // Each of the first ten posts twice: today, and two months ago.
    sqlx::query(
        "INSERT INTO posts (author_id, body, created_at)
         SELECT u.id, 'post', now() - age FROM users u,
                (VALUES (interval '0 days'), (interval '60 days')) AS ages(age)
         WHERE u.username IN ('u1','u2','u3','u4','u5','u6','u7','u8','u9','u10')",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO followers (follower_id, followed_id)
         SELECT $1, id FROM users WHERE username LIKE 'u%' AND username <> $2",
    )
    .bind(reader.get())
    .bind(format!("u{TIMELINE_FROM}"))
    .execute(&pool)
    .await
    .unwrap();
    let has_timeline = |pool: PgPool| async move {
        sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT FROM timelines WHERE reader_id = $1)")
            .bind(reader.get())
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    assert!(!has_timeline(pool.clone()).await, "not at 1,999");

    follows::follow(&pool, reader, &name(&format!("u{TIMELINE_FROM}")))
        .await
        .unwrap();
    assert!(has_timeline(pool.clone()).await, "from 2,000");
    assert_eq!(
        timeline_size(&pool, reader).await,
        10,
        "today's ten posts, not those of two months ago"
    );
    assert!(timeline_errors(&pool).await.is_empty());
    assert_eq!(
        FeedWalk::for_following(TIMELINE_FROM),
        FeedWalk::Timeline,
        "the feed reads it from the same count"
    );
}

/// Waits until another connection is blocked on a lock (true), or `task` has ended without
/// waiting (false). The minute's limit only turns a hang into a failure.
async fn blocked_before_done<T>(pool: &PgPool, task: &tokio::task::JoinHandle<T>) -> bool {
    let watch = async {
        loop {
            let blocked = statements_waiting_for_locks(pool).await > 0;
            if blocked || task.is_finished() {
                return blocked;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), watch)
        .await
        .expect("the second statement neither waited nor finished")
}

/// Runs `first` in a transaction left open, starts `second` on the pool (which must wait for
/// it), commits `first`, lets `second` finish, and checks the timelines.
async fn race(pool: &PgPool, first: String, second: String) {
    let mut held = pool.begin().await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(first.as_str()))
        .execute(&mut *held)
        .await
        .unwrap();
    let waiting = {
        let pool = pool.clone();
        let second = second.clone();
        tokio::spawn(async move {
            sqlx::query(sqlx::AssertSqlSafe(second.as_str()))
                .execute(&pool)
                .await
                .map(|_| ())
        })
    };
    let blocked = blocked_before_done(pool, &waiting).await;
    held.commit().await.unwrap();
    waiting.await.unwrap().unwrap();
    assert_eq!(
        timeline_errors(pool).await,
        Vec::<String>::new(),
        "after `{first}` then `{second}`"
    );
    assert!(blocked, "`{second}` waited for `{first}` to commit");
}

fn post_by(username: &str) -> String {
    format!(
        "INSERT INTO posts (author_id, body) SELECT id, 'new' FROM users WHERE username = '{username}'"
    )
}

#[sqlx::test(migrator = "app::db::MIGRATOR")]
async fn a_post_and_a_follow_at_the_same_moment_leave_the_timeline_exact(pool: PgPool) {
    let reader = user(&pool, "reader").await;
    user(&pool, "author").await;
    sqlx::query("SELECT r.start_timeline($1, '-infinity')")
        .bind(reader.get())
        .execute(&pool)
        .await
        .unwrap();
    let change = |follow: bool| {
        format!(
            "SELECT r.change_follows(ARRAY[{}]::bigint[], ARRAY[NULL]::bigint[], ARRAY['author'],
                                   ARRAY[{follow}], ARRAY[NULL]::text[], NULL, NULL, NULL)",
            reader.get()
        )
    };
    // The same in a batch, with somebody else's follow of the author first.
    let other = user(&pool, "other").await;
    let in_a_batch = |follow: bool| {
        format!(
            "SELECT r.change_follows(ARRAY[{}, {}]::bigint[], ARRAY[NULL, NULL]::bigint[],
                                   ARRAY['author', 'author'], ARRAY[{follow}, {follow}],
                                   ARRAY[NULL, NULL]::text[], NULL, NULL, NULL)",
            other.get(),
            reader.get()
        )
    };

    // The post's fan-out first, the follow of its author waiting: the follow adds it.
    race(&pool, post_by("author"), change(true)).await;
    // The follow first, the author's post waiting: the post's fan-out finds the follow.
    race(&pool, change(false), post_by("author")).await;
    race(&pool, change(true), post_by("author")).await;
    // An unfollow after a post: it takes that post out too.
    race(&pool, post_by("author"), change(false)).await;
    assert_eq!(timeline_size(&pool, reader).await, 0);
    race(&pool, post_by("author"), in_a_batch(true)).await;
    race(&pool, in_a_batch(false), post_by("author")).await;
    race(&pool, in_a_batch(true), post_by("author")).await;
    race(&pool, post_by("author"), in_a_batch(false)).await;
    assert_eq!(timeline_size(&pool, reader).await, 0);
}

#[sqlx::test(migrator = "app::db::MIGRATOR")]
async fn a_post_and_the_start_of_a_timeline_at_the_same_moment_leave_it_exact(pool: PgPool) {
    let reader = user(&pool, "reader").await;
    user(&pool, "author").await;
    follows::follow(&pool, reader, &name("author"))
        .await
        .unwrap();
    let start = format!("SELECT r.start_timeline({}, '-infinity')", reader.get());

    // A post whose fan-out found no timeline yet, then the start: its fill must see the post.
    race(&pool, post_by("author"), start.clone()).await;
    assert_eq!(timeline_size(&pool, reader).await, 1);
    sqlx::query("DELETE FROM timelines")
        .execute(&pool)
        .await
        .unwrap();
    // The start first, a post waiting: the post's fan-out must find the new timeline.
    race(&pool, start, post_by("author")).await;
    assert_eq!(timeline_size(&pool, reader).await, 2);
}

#[sqlx::test(migrator = "app::db::MIGRATOR")]
async fn a_readers_own_post_and_their_two_thousandth_follow_at_the_same_moment_leave_it_exact(
    pool: PgPool,
) {
    // Two readers one follow short of a timeline, each following u1…u1999.
    sqlx::query(
        "INSERT INTO users (username, email, password_hash)
         SELECT name, name || '@example.com', 'x'
         FROM (SELECT 'u' || g AS name FROM generate_series(1, $1) AS g
               UNION ALL VALUES ('first'), ('second')) AS names",
    )
    .bind(TIMELINE_FROM)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO followers (follower_id, followed_id)
         SELECT r.id, u.id FROM users r, users u
         WHERE r.username IN ('first', 'second') AND u.username LIKE 'u%' AND u.username <> $1",
    )
    .bind(format!("u{TIMELINE_FROM}"))
    .execute(&pool)
    .await
    .unwrap();
    let last_follow = |reader: &str| {
        format!(
            "SELECT r.change_follows(ARRAY[(SELECT id FROM users WHERE username = '{reader}')],
                                   ARRAY[NULL]::bigint[], ARRAY['u{TIMELINE_FROM}'], ARRAY[true],
                                   ARRAY[NULL]::text[], NULL, NULL, NULL)"
        )
    };

    // Their post first, the follow that starts their timeline waiting: the fill must see it.
    race(&pool, post_by("first"), last_follow("first")).await;
    // The follow first, their post waiting: its fan-out must find the new timeline.
    race(&pool, last_follow("second"), post_by("second")).await;
    let timelines: i64 = sqlx::query_scalar("SELECT count(*) FROM timelines")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(timelines, 2);
}
