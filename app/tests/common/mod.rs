//! Arrange helpers shared by the integration tests. Every test gets its own fresh database
//! from `#[sqlx::test]`, with the migrations applied.
#![allow(dead_code)]

use app::domain::Username;
use app::model::{Cursor, UserId};
use sqlx::PgPool;

/// A user with a placeholder password hash: these tests are about data, not sign-in.
pub async fn user(pool: &PgPool, name: &str) -> UserId {
    let id: i64 = sqlx::query_scalar("INSERT INTO users (username, email, password_hash) VALUES ($1, $2, 'not-a-hash') RETURNING id")
        .bind(name)
        .bind(format!("{name}@example.com"))
        .fetch_one(pool)
        .await
        .expect("insert user");
    UserId::new(id)
}

/// A well-formed username, as the edge would have parsed it.
pub fn name(text: &str) -> Username {
    Username::parse(text).expect("a well-formed username")
}

pub struct Counts {
    pub followers: i64,
    pub following: i64,
}

/// The counters kept on `users` by the trigger.
pub async fn counts(pool: &PgPool, user: UserId) -> Counts {
    let (followers, following): (i64, i64) =
        sqlx::query_as("SELECT followers_count, following_count FROM users WHERE id = $1")
            .bind(user.get())
            .fetch_one(pool)
            .await
            .expect("counters of an existing user");
    Counts {
        followers,
        following,
    }
}

pub async fn is_following(pool: &PgPool, follower: UserId, followed: UserId) -> bool {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM followers WHERE follower_id = $1 AND followed_id = $2)",
    )
    .bind(follower.get())
    .bind(followed.get())
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Removes a user; their posts and links go with them (ON DELETE CASCADE).
pub async fn delete_user(pool: &PgPool, user: UserId) {
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(user.get())
        .execute(pool)
        .await
        .expect("delete user");
}

/// A post `seconds` after a fixed instant, so orderings do not depend on the clock.
pub async fn post_at(pool: &PgPool, author: UserId, body: &str, seconds: i64) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO posts (author_id, body, created_at)
         VALUES ($1, $2, timestamptz '2026-01-01 00:00:00+00' + $3 * interval '1 second') RETURNING id",
    )
    .bind(author.get())
    .bind(body)
    .bind(seconds as f64)
    .fetch_one(pool)
    .await
    .expect("insert post")
}

/// A post newer than every other.
pub async fn post_newest(pool: &PgPool, author: UserId, body: &str) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO posts (author_id, body, created_at)
         SELECT $1, $2, max(created_at) + interval '1 second' FROM posts RETURNING id",
    )
    .bind(author.get())
    .bind(body)
    .fetch_one(pool)
    .await
    .expect("insert post")
}

pub async fn link_rows(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM followers")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Users whose counters differ from a count of the link rows: must always be none.
pub async fn users_with_wrong_counters(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT u.username FROM users u
         WHERE u.followers_count <> (SELECT count(*) FROM followers f WHERE f.followed_id = u.id)
            OR u.following_count <> (SELECT count(*) FROM followers f WHERE f.follower_id = u.id)",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The feed cursor that points at `post`.
pub async fn cursor_of(pool: &PgPool, post: i64) -> Cursor {
    let micros = sqlx::query_scalar(
        "SELECT (extract(epoch FROM created_at) * 1000000)::bigint FROM posts WHERE id = $1",
    )
    .bind(post)
    .fetch_one(pool)
    .await
    .expect("the post's time");
    Cursor { micros, id: post }
}

/// How many statements of this test's database wait for a lock: a race test's second
/// statement has reached what its first holds.
pub async fn statements_waiting_for_locks(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A transaction holding `user`'s row locked, as another request's change would, until it
/// ends.
pub async fn hold_user_row(
    pool: &PgPool,
    user: UserId,
) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut holder = pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
        .bind(user.get())
        .execute(&mut *holder)
        .await
        .unwrap();
    holder
}
