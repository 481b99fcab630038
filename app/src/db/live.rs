//! What the live home feed needs from PostgreSQL: its notifications, and the posts and follows
//! a stream starts from (server only; the streams themselves are `server::live`).
//!
//! Triggers (`db/logic/posts.sql`, `follows.sql`) `NOTIFY` every new post and every follow change, so a
//! write through any server process, or by hand in psql, reaches every process's listener at
//! commit. Sign-outs are announced by `logout`.

use crate::error::AppError;
use crate::model::{Cursor, UserId};
use crate::present::{PageBound, cursor_of};
use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgNotification};
use std::collections::HashSet;
use std::sync::Arc;

pub const POSTS_CHANNEL: &str = "microblog_posts";
pub const FOLLOWS_CHANNEL: &str = "microblog_follows";
pub const SIGN_OUTS_CHANNEL: &str = "microblog_sign_outs";

/// A post as the stream announces it: who wrote it, and where it sits in the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPost {
    pub author: UserId,
    /// Shared by every stream the post reaches.
    pub author_name: Arc<str>,
    pub cursor: Cursor,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Posted(NewPost),
    Followed { follower: UserId, followed: UserId },
    Unfollowed { follower: UserId, followed: UserId },
    SignedOut(UserId),
}

/// A connection listening on every channel above; `PgListener` reconnects by itself.
pub async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener
        .listen_all([POSTS_CHANNEL, FOLLOWS_CHANNEL, SIGN_OUTS_CHANNEL])
        .await?;
    Ok(listener)
}

/// A notification's payload, as the triggers write it: space-separated numbers, and for a
/// post its author's name last.
pub fn parse(notification: &PgNotification) -> Option<Notice> {
    let payload = notification.payload();
    if notification.channel() == POSTS_CHANNEL {
        let mut fields = payload.splitn(4, ' ');
        let mut number = || fields.next()?.parse::<i64>().ok();
        let (id, author, micros) = (number()?, number()?, number()?);
        let author_name = fields.next().filter(|name| !name.is_empty())?;
        return Some(Notice::Posted(NewPost {
            author: UserId::new(author),
            author_name: author_name.into(),
            cursor: Cursor { micros, id },
        }));
    }
    let numbers: Vec<i64> = payload
        .split(' ')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    match (notification.channel(), numbers.as_slice()) {
        (FOLLOWS_CHANNEL, &[follower, followed, 1]) => Some(Notice::Followed {
            follower: UserId::new(follower),
            followed: UserId::new(followed),
        }),
        (FOLLOWS_CHANNEL, &[follower, followed, 0]) => Some(Notice::Unfollowed {
            follower: UserId::new(follower),
            followed: UserId::new(followed),
        }),
        (SIGN_OUTS_CHANNEL, &[user]) => Some(Notice::SignedOut(UserId::new(user))),
        _ => None,
    }
}

/// Tells every process that `user` signed out, so their open streams close.
pub async fn announce_sign_out(pool: &PgPool, user: UserId) -> Result<(), AppError> {
    sqlx::query!(
        "SELECT pg_notify($1, $2)",
        SIGN_OUTS_CHANNEL,
        user.get().to_string()
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// The feed position of "now", by the database's clock (which stamps the posts): a stream
/// opened without a resume point announces what is posted from here on.
pub async fn now(pool: &PgPool) -> Result<Cursor, AppError> {
    let now = sqlx::query_scalar!(r#"SELECT now() AS "now!""#)
        .fetch_one(pool)
        .await?;
    Ok(cursor_of(now, i64::MAX))
}

/// Everyone `reader` follows (the authors whose posts their stream announces).
pub async fn followed_ids(pool: &PgPool, reader: UserId) -> Result<HashSet<UserId>, AppError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT followed_id AS "id: UserId" FROM followers WHERE follower_id = $1"#,
        reader.get()
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .collect())
}

/// Posts by people `reader` follows that are newer in the feed than `since`, oldest first, at
/// most `limit`: what a stream that was away missed. The reader's own posts are not news to
/// them.
pub async fn followed_posts_since(
    pool: &PgPool,
    reader: UserId,
    since: Cursor,
    limit: i64,
) -> Result<Vec<NewPost>, AppError> {
    let bound = PageBound::of(crate::model::PageRequest::NewerThan(since));
    let rows = sqlx::query!(
        r#"
        SELECT p.id, p.author_id AS "author_id: UserId", u.username, p.created_at
        FROM followers f
        CROSS JOIN LATERAL (
            SELECT id, author_id, created_at FROM posts
            WHERE posts.author_id = f.followed_id AND (created_at, id) > ($2, $3)
            ORDER BY created_at, id
            LIMIT $4
        ) AS p
        JOIN users u ON u.id = p.author_id
        WHERE f.follower_id = $1
        ORDER BY p.created_at, p.id
        LIMIT $4
        "#,
        reader.get(),
        bound.at,
        bound.id,
        limit,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| NewPost {
            author: row.author_id,
            author_name: row.username.into(),
            cursor: cursor_of(row.created_at, row.id),
        })
        .collect())
}

/// How long a stream counts against its person's cap after its process last renewed it; a
/// process renews its streams every `STREAM_LEASE / 3`.
pub const STREAM_LEASE: std::time::Duration = std::time::Duration::from_secs(60);

/// Registers a stream for `reader` unless they already hold `per_user` open ones on any
/// process: its id, or `None`. Deletes `closed` first, this process's streams that ended
/// since it last told the database, so a tab closed here and opened again is not refused.
pub async fn open_stream(
    pool: &PgPool,
    reader: UserId,
    per_user: usize,
    closed: &[i64],
) -> Result<Option<i64>, AppError> {
    let mut transaction = pool.begin().await?;
    if !closed.is_empty() {
        sqlx::query!("DELETE FROM live_streams WHERE id = ANY($1)", closed)
            .execute(&mut *transaction)
            .await?;
    }
    let opened = sqlx::query_scalar!(
        "SELECT r.open_live_stream($1, $2, $3)",
        reader.get(),
        i32::try_from(per_user).unwrap_or(i32::MAX),
        crate::db::limits::interval(STREAM_LEASE),
    )
    .fetch_one(&mut *transaction)
    .await?;
    transaction.commit().await?;
    Ok(opened)
}

/// Renews the leases of the streams `open` and forgets those `closed`, for one process.
pub async fn renew_streams(pool: &PgPool, open: &[i64], closed: &[i64]) -> Result<(), AppError> {
    sqlx::query!(
        "WITH gone AS (DELETE FROM live_streams WHERE id = ANY($2))
         UPDATE live_streams SET lease_until = now() + $3 WHERE id = ANY($1)",
        open,
        closed,
        crate::db::limits::interval(STREAM_LEASE),
    )
    .execute(pool)
    .await?;
    Ok(())
}
