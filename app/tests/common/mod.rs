//! Arrange helpers shared by the integration tests. Every test gets its own fresh database
//! from `#[sqlx::test]`, with the migrations applied.
#![allow(dead_code)]

use sqlx::PgPool;

/// A user with a placeholder password hash: these tests are about data, not sign-in.
pub async fn user(pool: &PgPool, name: &str) -> i64 {
    sqlx::query_scalar("INSERT INTO users (username, email, password_hash) VALUES ($1, $2, 'not-a-hash') RETURNING id")
        .bind(name)
        .bind(format!("{name}@example.com"))
        .fetch_one(pool)
        .await
        .expect("insert user")
}

/// A post `seconds` after a fixed instant, so orderings do not depend on the clock.
pub async fn post_at(pool: &PgPool, author: i64, body: &str, seconds: i64) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO posts (author_id, body, created_at)
         VALUES ($1, $2, timestamptz '2026-01-01 00:00:00+00' + $3 * interval '1 second') RETURNING id",
    )
    .bind(author)
    .bind(body)
    .bind(seconds as f64)
    .fetch_one(pool)
    .await
    .expect("insert post")
}

/// A post newer than every other.
pub async fn post_newest(pool: &PgPool, author: i64, body: &str) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO posts (author_id, body, created_at)
         SELECT $1, $2, max(created_at) + interval '1 second' FROM posts RETURNING id",
    )
    .bind(author)
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
