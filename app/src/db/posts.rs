//! Posts and the lists they appear in: the home feed, a profile, explore.

use crate::db::fetch_keyset_page;
use crate::domain::{PostBody, Username};
use crate::error::AppError;
use crate::model::{Page, PageRequest, PostView, UserId};
use crate::present::{PageBound, avatar_url, cursor_of, into_page, timestamp};
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

pub(crate) fn present(rows: Vec<PostRow>, request: PageRequest, page_size: i64) -> Page<PostView> {
    let now = OffsetDateTime::now_utc();
    into_page(
        rows,
        request,
        page_size,
        |row| cursor_of(row.created_at, row.id),
        |row| PostView {
            id: row.id,
            cursor: cursor_of(row.created_at, row.id),
            avatar_url: avatar_url(&row.email, POST_AVATAR_SIZE),
            author: row.author,
            body: row.body,
            created: timestamp(row.created_at, now),
        },
    )
}

pub async fn create_post(pool: &PgPool, author: UserId, body: &PostBody) -> Result<i64, AppError> {
    Ok(sqlx::query_scalar!(
        "INSERT INTO posts (author_id, body) VALUES ($1, $2) RETURNING id",
        author.get(),
        body.as_str(),
    )
    .fetch_one(pool)
    .await?)
}

/// Readers following at least this many users get their feed by walking all posts newest
/// first; everyone else by walking each followed author's posts. See `followed_posts`.
pub const HEAVY_READER_FOLLOWS: i64 = 1_000;

/// The home feed of `me`: posts by the users `me` follows and by `me`, newest first.
///
/// One feed query per page, keyset-paginated on (created_at, id), so page 50 costs what page 1
/// does. Which query depends on how many users `me` follows, read first from the counter on
/// `users`:
/// - most people follow few: for each followed author take at most a page of their posts past
///   the cursor from `posts_author_newest` (index-only), then keep the newest page of those.
///   Work grows with the number of authors followed, never with how much they posted;
/// - someone who follows a large share of everyone: walk `posts_newest` from the cursor and keep
///   the posts whose author is in a hash of the followed ids. Work grows with how many posts
///   must be skipped, which is small exactly when one follows many.
///
/// Neither sorts the followed authors' posts. Only the page's rows touch `posts` for bodies.
///
/// `known_following` is `me`'s `following_count` when the caller has just read it (a page
/// reads it with the signed-in user), which saves the feed a statement. It only picks the
/// query: a count a moment old gives the same posts.
pub async fn followed_posts(
    pool: &PgPool,
    me: UserId,
    known_following: Option<i64>,
    request: PageRequest,
    page_size: i64,
) -> Result<Page<PostView>, AppError> {
    followed_posts_switching_at(
        pool,
        me,
        known_following,
        request,
        page_size,
        HEAVY_READER_FOLLOWS,
    )
    .await
}

/// `followed_posts` with the switch between its two queries at `follows_many_from` followed
/// users, so tests can prove both give the same feed.
pub async fn followed_posts_switching_at(
    pool: &PgPool,
    me: UserId,
    known_following: Option<i64>,
    request: PageRequest,
    page_size: i64,
    follows_many_from: i64,
) -> Result<Page<PostView>, AppError> {
    let following = match known_following {
        Some(count) => count,
        None => sqlx::query_scalar!("SELECT following_count FROM users WHERE id = $1", me.get())
            .fetch_optional(pool)
            .await?
            .ok_or_else(AppError::account_gone)?,
    };
    let bound = PageBound::of(request);
    let limit = page_size + 1;
    // The per-author walk has one sensible plan whatever the parameters, so PostgreSQL may
    // cache it (planning it took 1.8 ms, running it 1 ms). The walk of all posts must be
    // planned for the actual cursor: a cached generic plan took 27 ms at page 1 and 218 ms at
    // page 50. Its transaction asks for that, at the price of two round trips more.
    let rows = if following >= follows_many_from {
        let mut transaction = pool
            .begin_with("BEGIN READ ONLY; SET LOCAL plan_cache_mode = force_custom_plan")
            .await?;
        let rows = followed_posts_walking_all(&mut transaction, me, bound, limit).await?;
        transaction.commit().await?;
        rows
    } else {
        followed_posts_per_author(pool, me, bound, limit).await?
    };
    Ok(present(rows, request, page_size))
}

async fn followed_posts_per_author(
    pool: &PgPool,
    me: UserId,
    bound: PageBound,
    limit: i64,
) -> Result<Vec<PostRow>, AppError> {
    Ok(fetch_keyset_page!(
        pool,
        bound.walk,
        PostRow,
        r#"
        SELECT page.id AS "id!", u.username AS author, u.email, posts.body,
               page.created_at AS "created_at!"
        FROM (
            SELECT candidate.id, candidate.author_id, candidate.created_at
            FROM (SELECT followed_id AS author_id FROM followers WHERE follower_id = $1
                  UNION ALL SELECT $1) AS authors
            CROSS JOIN LATERAL (
                SELECT id, author_id, created_at FROM posts
                WHERE posts.author_id = authors.author_id AND (created_at, id) "#
            + past
            + r#" ($2, $3)
                ORDER BY created_at "#
            + order
            + ", id "
            + order
            + r#"
                LIMIT $4
            ) AS candidate
            ORDER BY candidate.created_at "#
            + order
            + ", candidate.id "
            + order
            + r#"
            LIMIT $4
        ) AS page
        JOIN posts ON posts.id = page.id
        JOIN users u ON u.id = page.author_id
        ORDER BY page.created_at "#
            + order
            + ", page.id "
            + order,
        me.get(),
        bound.at,
        bound.id,
        limit,
    )?)
}

async fn followed_posts_walking_all(
    connection: &mut sqlx::PgConnection,
    me: UserId,
    bound: PageBound,
    limit: i64,
) -> Result<Vec<PostRow>, AppError> {
    Ok(fetch_keyset_page!(
        &mut *connection,
        bound.walk,
        PostRow,
        r#"
        SELECT page.id AS "id!", u.username AS author, u.email, posts.body,
               page.created_at AS "created_at!"
        FROM (
            SELECT p.id, p.author_id, p.created_at
            FROM posts p
            WHERE (p.created_at, p.id) "#
            + past
            + r#" ($2, $3)
              AND (p.author_id = $1
                   OR p.author_id IN (SELECT followed_id FROM followers WHERE follower_id = $1))
            ORDER BY p.created_at "#
            + order
            + ", p.id "
            + order
            + r#"
            LIMIT $4
        ) AS page
        JOIN posts ON posts.id = page.id
        JOIN users u ON u.id = page.author_id
        ORDER BY page.created_at "#
            + order
            + ", page.id "
            + order,
        me.get(),
        bound.at,
        bound.id,
        limit,
    )?)
}

/// One user's posts, newest first.
pub async fn user_posts(
    pool: &PgPool,
    username: &Username,
    request: PageRequest,
    page_size: i64,
) -> Result<Page<PostView>, AppError> {
    let author = crate::db::users::id_by_username(pool, username).await?;
    let bound = PageBound::of(request);
    let rows = fetch_keyset_page!(
        pool,
        bound.walk,
        PostRow,
        "SELECT p.id, u.username AS author, u.email, p.body, p.created_at
         FROM posts p JOIN users u ON u.id = p.author_id
         WHERE p.author_id = $1 AND (p.created_at, p.id) "
            + past
            + " ($2, $3) ORDER BY p.created_at "
            + order
            + ", p.id "
            + order
            + " LIMIT $4",
        author.get(),
        bound.at,
        bound.id,
        page_size + 1,
    )?;
    Ok(present(rows, request, page_size))
}

/// Every post, newest first.
pub async fn explore(
    pool: &PgPool,
    request: PageRequest,
    page_size: i64,
) -> Result<Page<PostView>, AppError> {
    let bound = PageBound::of(request);
    let rows = fetch_keyset_page!(
        pool,
        bound.walk,
        PostRow,
        "SELECT p.id, u.username AS author, u.email, p.body, p.created_at
         FROM posts p JOIN users u ON u.id = p.author_id
         WHERE (p.created_at, p.id) "
            + past
            + " ($1, $2) ORDER BY p.created_at "
            + order
            + ", p.id "
            + order
            + " LIMIT $3",
        bound.at,
        bound.id,
        page_size + 1,
    )?;
    Ok(present(rows, request, page_size))
}
