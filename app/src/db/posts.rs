//! Posts and the lists they appear in: the home feed, a profile, explore.

use crate::domain::PostBody;
use crate::error::AppError;
use crate::model::{Page, PageRequest, PostView};
use crate::present::{avatar_url, cursor_of, into_page, page_bound, timestamp};
use sqlx::PgPool;
use time::OffsetDateTime;

pub const POST_AVATAR_SIZE: u32 = 48;

pub struct PostRow {
    pub id: i64,
    pub author: String,
    pub email: String,
    pub body: String,
    pub created_at: OffsetDateTime,
}

fn present(rows: Vec<PostRow>, request: PageRequest, page_size: i64) -> Page<PostView> {
    let now = OffsetDateTime::now_utc();
    into_page(
        rows,
        request,
        page_size,
        |row| cursor_of(row.created_at, row.id),
        |row| PostView {
            id: row.id,
            avatar_url: avatar_url(&row.email, POST_AVATAR_SIZE),
            author: row.author,
            body: row.body,
            created: timestamp(row.created_at, now),
        },
    )
}

pub async fn create_post(pool: &PgPool, author: i64, body: &PostBody) -> Result<i64, AppError> {
    Ok(sqlx::query_scalar!(
        "INSERT INTO posts (author_id, body) VALUES ($1, $2) RETURNING id",
        author,
        body.as_str(),
    )
    .fetch_one(pool)
    .await?)
}

/// The home feed of `me`: posts by the users `me` follows and by `me`, newest first.
///
/// One query per page. For each author (each followed user, and `me`) it takes at most a
/// page of their posts past the cursor straight from `posts_author_newest`, then keeps the
/// newest page of those: the work grows with the number of followed users, never with the
/// number of their posts, and nothing sorts a user's whole history.
pub async fn followed_posts(
    pool: &PgPool,
    me: i64,
    request: PageRequest,
    page_size: i64,
) -> Result<Page<PostView>, AppError> {
    let (at, id, walking_newer) = page_bound(request);
    let limit = page_size + 1;
    let rows = if walking_newer {
        sqlx::query_as!(
            PostRow,
            r#"
            SELECT p.id AS "id!", u.username AS author, u.email, p.body AS "body!", p.created_at AS "created_at!"
            FROM (
                SELECT candidate.*
                FROM (SELECT followed_id AS author_id FROM followers WHERE follower_id = $1
                      UNION ALL SELECT $1) AS authors
                CROSS JOIN LATERAL (
                    SELECT id, author_id, body, created_at FROM posts
                    WHERE posts.author_id = authors.author_id AND (created_at, id) > ($2, $3)
                    ORDER BY created_at ASC, id ASC
                    LIMIT $4
                ) AS candidate
                ORDER BY candidate.created_at ASC, candidate.id ASC
                LIMIT $4
            ) AS p
            JOIN users u ON u.id = p.author_id
            ORDER BY p.created_at ASC, p.id ASC
            "#,
            me, at, id, limit
        )
        .fetch_all(pool)
        .await?
    } else {
        sqlx::query_as!(
            PostRow,
            r#"
            SELECT p.id AS "id!", u.username AS author, u.email, p.body AS "body!", p.created_at AS "created_at!"
            FROM (
                SELECT candidate.*
                FROM (SELECT followed_id AS author_id FROM followers WHERE follower_id = $1
                      UNION ALL SELECT $1) AS authors
                CROSS JOIN LATERAL (
                    SELECT id, author_id, body, created_at FROM posts
                    WHERE posts.author_id = authors.author_id AND (created_at, id) < ($2, $3)
                    ORDER BY created_at DESC, id DESC
                    LIMIT $4
                ) AS candidate
                ORDER BY candidate.created_at DESC, candidate.id DESC
                LIMIT $4
            ) AS p
            JOIN users u ON u.id = p.author_id
            ORDER BY p.created_at DESC, p.id DESC
            "#,
            me, at, id, limit
        )
        .fetch_all(pool)
        .await?
    };
    Ok(present(rows, request, page_size))
}

/// The Flask tutorial's `followed_posts()`: join followers, filter on follower_id, UNION the
/// user's own posts, order by time, then LIMIT/OFFSET for page `page` (1-based). Kept only as
/// the baseline the benchmark measures `followed_posts` against.
pub async fn followed_posts_tutorial_baseline(
    pool: &PgPool,
    me: i64,
    page: i64,
    page_size: i64,
) -> Result<Vec<PostView>, AppError> {
    let rows = sqlx::query_as!(
        PostRow,
        r#"
        SELECT p.id AS "id!", u.username AS author, u.email, p.body AS "body!", p.created_at AS "created_at!"
        FROM (
            SELECT posts.* FROM posts
            JOIN followers ON followers.followed_id = posts.author_id
            WHERE followers.follower_id = $1
            UNION
            SELECT posts.* FROM posts WHERE posts.author_id = $1
        ) AS p
        JOIN users u ON u.id = p.author_id
        ORDER BY p.created_at DESC
        LIMIT $2 OFFSET $3
        "#,
        me,
        page_size,
        (page.max(1) - 1) * page_size,
    )
    .fetch_all(pool)
    .await?;
    Ok(present(rows, PageRequest::First, page_size).items)
}

/// One user's posts, newest first.
pub async fn user_posts(
    pool: &PgPool,
    username: &str,
    request: PageRequest,
    page_size: i64,
) -> Result<Page<PostView>, AppError> {
    let author = crate::db::users::id_by_username(pool, username).await?;
    let (at, id, walking_newer) = page_bound(request);
    let limit = page_size + 1;
    let rows = if walking_newer {
        sqlx::query_as!(
            PostRow,
            r#"
            SELECT p.id, u.username AS author, u.email, p.body, p.created_at
            FROM posts p JOIN users u ON u.id = p.author_id
            WHERE p.author_id = $1 AND (p.created_at, p.id) > ($2, $3)
            ORDER BY p.created_at ASC, p.id ASC
            LIMIT $4
            "#,
            author,
            at,
            id,
            limit
        )
        .fetch_all(pool)
        .await?
    } else {
        sqlx::query_as!(
            PostRow,
            r#"
            SELECT p.id, u.username AS author, u.email, p.body, p.created_at
            FROM posts p JOIN users u ON u.id = p.author_id
            WHERE p.author_id = $1 AND (p.created_at, p.id) < ($2, $3)
            ORDER BY p.created_at DESC, p.id DESC
            LIMIT $4
            "#,
            author,
            at,
            id,
            limit
        )
        .fetch_all(pool)
        .await?
    };
    Ok(present(rows, request, page_size))
}

/// Every post, newest first.
pub async fn explore(
    pool: &PgPool,
    request: PageRequest,
    page_size: i64,
) -> Result<Page<PostView>, AppError> {
    let (at, id, walking_newer) = page_bound(request);
    let limit = page_size + 1;
    let rows = if walking_newer {
        sqlx::query_as!(
            PostRow,
            r#"
            SELECT p.id, u.username AS author, u.email, p.body, p.created_at
            FROM posts p JOIN users u ON u.id = p.author_id
            WHERE (p.created_at, p.id) > ($1, $2)
            ORDER BY p.created_at ASC, p.id ASC
            LIMIT $3
            "#,
            at,
            id,
            limit
        )
        .fetch_all(pool)
        .await?
    } else {
        sqlx::query_as!(
            PostRow,
            r#"
            SELECT p.id, u.username AS author, u.email, p.body, p.created_at
            FROM posts p JOIN users u ON u.id = p.author_id
            WHERE (p.created_at, p.id) < ($1, $2)
            ORDER BY p.created_at DESC, p.id DESC
            LIMIT $3
            "#,
            at,
            id,
            limit
        )
        .fetch_all(pool)
        .await?
    };
    Ok(present(rows, request, page_size))
}
