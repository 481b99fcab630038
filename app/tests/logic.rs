//! The database's logic (`db::logic`, schema `r`) is installed with the migrations, made again
//! only when it changed, and never missing while it is made again.

mod common;

use app::db::posts::TIMELINE_FROM;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

async fn schema_r(pool: &PgPool) -> Option<i64> {
    sqlx::query_scalar("SELECT oid::bigint FROM pg_namespace WHERE nspname = 'r'")
        .fetch_optional(pool)
        .await
        .unwrap()
}

/// Stands for a build whose logic differs from the one installed.
async fn pretend_the_logic_changed(pool: &PgPool) {
    let changed = sqlx::query("UPDATE _sqlx_migrations SET checksum = '\\x00' WHERE version = $1")
        .bind(app::db::logic::VERSION)
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(changed.rows_affected(), 1);
}

async fn wrong_counters(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM users u
         WHERE u.followers_count <> (SELECT count(*) FROM followers f WHERE f.followed_id = u.id)
            OR u.following_count <> (SELECT count(*) FROM followers f WHERE f.follower_id = u.id)",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = false)]
async fn the_logic_is_made_once_and_again_only_when_it_changed(pool: PgPool) {
    app::db::migrate(&pool).await.unwrap();
    let first = schema_r(&pool).await.expect("schema r exists");
    app::db::migrate(&pool).await.unwrap();
    assert_eq!(
        schema_r(&pool).await,
        Some(first),
        "an unchanged logic is left alone"
    );

    pretend_the_logic_changed(&pool).await;
    app::db::migrate(&pool).await.unwrap();
    let again = schema_r(&pool).await.expect("schema r exists");
    assert_ne!(again, first, "a changed logic is made again");

    // And what it made works: the counters follow the links.
    let ana = common::user(&pool, "ana").await;
    let ben = common::user(&pool, "ben").await;
    sqlx::query("INSERT INTO followers (follower_id, followed_id) VALUES ($1, $2)")
        .bind(ana.get())
        .bind(ben.get())
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(common::counts(&pool, ben).await.followers, 1);
    assert_eq!(common::counts(&pool, ana).await.following, 1);
}

#[sqlx::test(migrator = "app::db::MIGRATOR")]
async fn the_database_starts_timelines_where_the_feed_reads_them(pool: PgPool) {
    let from: i64 = sqlx::query_scalar("SELECT r.timeline_from()")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(from, TIMELINE_FROM);
}

/// A pool of its own on the same database: what a second process has.
async fn second_process(pool: &PgPool) -> PgPool {
    let options: PgConnectOptions = (*pool.connect_options()).clone();
    PgPoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .unwrap()
}

#[sqlx::test(migrations = false)]
async fn two_processes_starting_at_once_on_an_empty_database_both_start(pool: PgPool) {
    let other = second_process(&pool).await;
    let (first, second) = tokio::join!(app::db::migrate(&pool), app::db::migrate(&other));
    first.unwrap();
    second.unwrap();
    assert!(schema_r(&pool).await.is_some());
}

#[sqlx::test(migrations = false)]
async fn follows_made_while_the_logic_is_made_again_keep_their_counts(pool: PgPool) {
    app::db::migrate(&pool).await.unwrap();
    let mut people = Vec::new();
    for n in 0..6 {
        people.push(common::user(&pool, &format!("person{n}")).await);
    }
    let serving = second_process(&pool).await;
    let follows = {
        let people = people.clone();
        tokio::spawn(async move {
            for round in 0..200 {
                let follower = people[round % 6];
                let followed = people[(round * 5 + 1) % 6];
                if follower == followed {
                    continue;
                }
                let follow = sqlx::query(
                    "INSERT INTO followers (follower_id, followed_id) VALUES ($1, $2)
                     ON CONFLICT DO NOTHING",
                )
                .bind(follower.get())
                .bind(followed.get())
                .execute(&serving)
                .await;
                let unfollow = sqlx::query(
                    "DELETE FROM followers WHERE follower_id = $1 AND followed_id = $2 AND $3",
                )
                .bind(followed.get())
                .bind(follower.get())
                .bind(round % 3 == 0)
                .execute(&serving)
                .await;
                // A write that meets the reinstall in a deadlock is ended whole; nothing else
                // may go wrong.
                for outcome in [follow, unfollow] {
                    if let Err(error) = outcome {
                        let code = error.as_database_error().and_then(|e| e.code());
                        assert_eq!(code.as_deref(), Some("40P01"), "{error}");
                    }
                }
            }
        })
    };
    for _ in 0..5 {
        pretend_the_logic_changed(&pool).await;
        app::db::migrate(&pool).await.unwrap();
    }
    follows.await.unwrap();
    assert_eq!(wrong_counters(&pool).await, 0);
}
