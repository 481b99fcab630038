//! The benchmark's data set (`bench-tools seed-scale`): 100k users, 1M posts, 10M follows in minutes.
//! It drops and rebuilds indexes and switches off triggers while loading, which is why it is
//! compiled only with the `bench` feature and never into the server that serves people.

use crate::error::AppError;
use sqlx::PgPool;
use std::time::Instant;

/// Drops the indexes of `tables` other than primary keys, returning their definitions.
async fn drop_secondary_indexes(
    tx: &mut sqlx::PgConnection,
    tables: &[&str],
) -> Result<Vec<String>, AppError> {
    let tables: Vec<String> = tables.iter().map(|table| table.to_string()).collect();
    let indexes = sqlx::query!(
        r#"
        SELECT i.indexrelid::regclass::text AS "name!", pg_get_indexdef(i.indexrelid) AS "definition!"
        FROM pg_index i
        WHERE i.indrelid::regclass::text = ANY($1) AND NOT i.indisprimary
        "#,
        &tables,
    )
    .fetch_all(&mut *tx)
    .await?;
    for index in &indexes {
        // The name comes from the catalog, not from input.
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP INDEX {}", index.name)))
            .execute(&mut *tx)
            .await?;
    }
    Ok(indexes.into_iter().map(|index| index.definition).collect())
}

async fn restore_indexes(
    tx: &mut sqlx::PgConnection,
    definitions: &[String],
) -> Result<(), AppError> {
    sqlx::query!("SET LOCAL maintenance_work_mem = '1GB'")
        .execute(&mut *tx)
        .await?;
    // Definitions the catalog gave `drop_indexes`, not input.
    for definition in definitions {
        sqlx::query(sqlx::AssertSqlSafe(definition.as_str()))
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// The size of a benchmark data set.
#[derive(Debug, Clone)]
pub struct ScaleOptions {
    pub users: i64,
    pub posts_per_user: i64,
    pub follows_per_user: i64,
    /// How many users follow `heavy_follows` others.
    pub heavy_users: i64,
    pub heavy_follows: i64,
    /// Same seed, same data.
    pub seed: f64,
}

/// Loads a benchmark data set into an empty database: `bench0…` users, each with
/// `posts_per_user` posts spread over the last year and `follows_per_user` random follows; the
/// first `heavy_users` users (`bench0`, `bench1`…) follow `heavy_follows` users each.
pub async fn scale(pool: &PgPool, options: &ScaleOptions) -> Result<String, AppError> {
    let started = Instant::now();
    let hash = super::demo_password_hash().await?;
    let mut tx = pool.begin().await?;
    sqlx::query!("SELECT setseed($1)", options.seed)
        .execute(&mut *tx)
        .await?;
    sqlx::query!(
        r#"
        INSERT INTO users (username, email, password_hash, created_at, last_seen)
        SELECT 'bench' || g, 'bench' || g || '@example.com', $1,
               now() - interval '2 years', now() - random() * interval '30 days'
        FROM generate_series(0, $2::bigint - 1) AS g
        "#,
        hash,
        options.users,
    )
    .execute(&mut *tx)
    .await?;
    let first_id: i64 =
        sqlx::query_scalar!(r#"SELECT min(id) AS "id!" FROM users WHERE username = 'bench0'"#)
            .fetch_one(&mut *tx)
            .await?;
    // Building an index once over all rows is many times faster than growing it row by row
    // in random order, so secondary indexes are set aside during the load.
    let set_aside = drop_secondary_indexes(&mut tx, &["posts", "followers"]).await?;
    // Rows generated from the users just inserted cannot break a foreign key, and the counters
    // are rebuilt once at the end: skip the per-row foreign-key and counter triggers ("replica"
    // mode, a superuser setting, as on the project-local cluster).
    sqlx::query!("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await?;
    sqlx::query!(
        r#"
        INSERT INTO posts (author_id, body, created_at)
        SELECT $1::bigint + u, 'Post number ' || p || ' from bench' || u || '.',
               now() - random() * interval '365 days'
        FROM generate_series(0, $2::bigint - 1) AS u, generate_series(1, $3::bigint) AS p
        "#,
        first_id,
        options.users,
        options.posts_per_user,
    )
    .execute(&mut *tx)
    .await?;
    // User u follows u + offset (mod users) for distinct offsets in 1..users-1: the k-th offset
    // is drawn from its own stride, so pairs never repeat and nobody follows themselves.
    sqlx::query!(
        r#"
        INSERT INTO followers (follower_id, followed_id, created_at)
        SELECT $1::bigint + u,
               $1::bigint + (u + 1 + (k - 1) * spacing.stride
                             + floor(random() * spacing.stride)::bigint) % $2::bigint,
               now() - random() * interval '365 days'
        FROM generate_series(0, $2::bigint - 1) AS u
        CROSS JOIN LATERAL (
            SELECT least(CASE WHEN u < $4::bigint THEN $5::bigint ELSE $3::bigint END,
                         $2::bigint - 1) AS follows
        ) AS wanted
        CROSS JOIN LATERAL (
            SELECT greatest(($2::bigint - 1) / greatest(wanted.follows, 1), 1) AS stride
        ) AS spacing
        CROSS JOIN LATERAL generate_series(1, wanted.follows) AS k
        "#,
        first_id,
        options.users,
        options.follows_per_user,
        options.heavy_users,
        options.heavy_follows,
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!("SET LOCAL session_replication_role = origin")
        .execute(&mut *tx)
        .await?;
    restore_indexes(&mut tx, &set_aside).await?;
    sqlx::query!(
        r#"
        WITH followers_of AS (SELECT followed_id AS id, count(*) AS n FROM followers GROUP BY 1),
             following_of AS (SELECT follower_id AS id, count(*) AS n FROM followers GROUP BY 1)
        UPDATE users u
        SET followers_count = coalesce(fr.n, 0), following_count = coalesce(fg.n, 0)
        FROM users target
        LEFT JOIN followers_of fr ON fr.id = target.id
        LEFT JOIN following_of fg ON fg.id = target.id
        WHERE u.id = target.id AND u.id >= $1
        "#,
        first_id,
    )
    .execute(&mut *tx)
    .await?;
    // Readers who follow thousands get the timeline their 2,000th follow would have started
    // (the load skipped the triggers).
    sqlx::query!(
        "SELECT r.start_timeline(id) FROM users WHERE id >= $1 AND following_count >= $2",
        first_id,
        crate::db::posts::TIMELINE_FROM,
    )
    .execute(&mut *tx)
    .await?;
    // VACUUM marks a page all-visible only once the commits that wrote its rows are on disk,
    // and PostgreSQL tracks that for groups of 32 transactions: one asynchronous commit
    // nearby (the cluster's setting, and each table ANALYZE here is one) left the data set with
    // no page of `posts` all-visible, so every "index-only" feed scan read the table. So the
    // load and the VACUUM commit synchronously.
    sqlx::query!("SET LOCAL synchronous_commit = on")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let mut connection = pool.acquire().await?;
    sqlx::query!("SET synchronous_commit = on")
        .execute(&mut *connection)
        .await?;
    sqlx::query!("VACUUM (ANALYZE) users, posts, followers, timelines, timeline_posts")
        .execute(&mut *connection)
        .await?;
    sqlx::query!("RESET synchronous_commit")
        .execute(&mut *connection)
        .await?;
    Ok(format!(
        "seeded {} users × {} posts, {} follows each ({} heavy users follow {}) in {:.1} s",
        options.users,
        options.posts_per_user,
        options.follows_per_user,
        options.heavy_users,
        options.heavy_follows,
        started.elapsed().as_secs_f64()
    ))
}
