//! Accounts and profiles.

use crate::db::violated_constraint;
use crate::domain::{AboutMe, Email, Username};
use crate::error::AppError;
use crate::model::{CurrentUser, Profile, UserId};
use crate::present::{avatar_url, timestamp};
use sqlx::PgPool;
use time::OffsetDateTime;

pub const PROFILE_AVATAR_SIZE: u32 = 128;

fn map_unique_violation(error: sqlx::Error) -> AppError {
    match violated_constraint(&error) {
        Some("users_username_unique") => AppError::username_taken(),
        Some("users_email_unique") => AppError::email_registered(),
        _ => error.into(),
    }
}

pub async fn create_user(
    pool: &PgPool,
    username: &Username,
    email: &Email,
    password_hash: &str,
) -> Result<UserId, AppError> {
    sqlx::query_scalar!(
        r#"INSERT INTO users (username, email, password_hash) VALUES ($1, $2, $3) RETURNING id AS "id: UserId""#,
        username.as_str(),
        email.as_str(),
        password_hash,
    )
    .fetch_one(pool)
    .await
    .map_err(map_unique_violation)
}

pub struct Credentials {
    pub id: UserId,
    pub username: String,
    pub password_hash: String,
}

pub async fn credentials(
    pool: &PgPool,
    username: &Username,
) -> Result<Option<Credentials>, AppError> {
    Ok(sqlx::query_as!(
        Credentials,
        r#"SELECT id AS "id: UserId", username, password_hash FROM users WHERE lower(username) = lower($1)"#,
        username.as_str(),
    )
    .fetch_optional(pool)
    .await?)
}

/// The signed-in user, refreshing `last_seen` when it is more than a minute old, so an active
/// reader costs one write a minute rather than one a request.
pub async fn current_user(pool: &PgPool, id: UserId) -> Result<Option<SignedIn>, AppError> {
    let row = sqlx::query!(
        r#"
        WITH touched AS (
            UPDATE users SET last_seen = now()
            WHERE id = $1 AND last_seen < now() - interval '1 minute'
        )
        SELECT id AS "id: UserId", username, following_count FROM users WHERE id = $1
        "#,
        id.get(),
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|row| SignedIn {
        user: CurrentUser {
            id: row.id,
            username: row.username,
        },
        following_count: row.following_count,
    }))
}

/// What the page cache (server/src/page_cache.rs) checks a reader's cached home page against,
/// read together with the signed-in user (refreshing `last_seen` as `current_user` does), so a
/// view served from the cache costs one statement after the session's.
#[derive(Debug, Clone)]
pub struct HomeStamp {
    pub signed_in: SignedIn,
    /// Moves with every follow or unfollow by or of the reader and every edit of their profile.
    pub home_version: i64,
    /// How many profile edits anyone has made: another person's new name or avatar may be on
    /// the page.
    pub profile_edits: i64,
    /// Every post begun before this time was committed when this was read (see
    /// `POSTS_COMMIT_WITHIN`), so a page rendered after this read shows all of them.
    pub posts_settled_before: OffsetDateTime,
    /// Whether the reader, or anyone they follow, has a post begun after `since`.
    pub posted_since: bool,
}

/// How long a post's insert may take from its start (its `created_at`) to its commit, as far
/// as the page cache is concerned. Posts are checked by time, not id, because ids are handed
/// out before commit: a post with a lower id can become visible after one with a higher id.
/// A post is one statement taking well under a millisecond; one that took longer than this
/// could be missed by a kept page until the page's minute is over.
pub const POSTS_COMMIT_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

/// The reader's `HomeStamp`; `since` is the time up to which a kept page is known to show
/// every post (the `posts_settled_before` of its last check). (Migration 20261201000001 says
/// new posts are found by id: that was the first version, which missed posts committed out of
/// id order; see `POSTS_COMMIT_WITHIN`.)
///
/// The posts begun after `since` are walked newest first on `posts_newest` (which carries the
/// author) and each author checked with a probe of `followers_pkey`: `since` moves up after
/// every check that finds nothing, so the walk covers only the last seconds of posts.
pub async fn home_stamp(
    pool: &PgPool,
    id: UserId,
    since: Option<OffsetDateTime>,
) -> Result<Option<HomeStamp>, AppError> {
    let row = sqlx::query!(
        r#"
        WITH touched AS (
            UPDATE users SET last_seen = now()
            WHERE id = $1 AND last_seen < now() - interval '1 minute'
        )
        SELECT u.id AS "id: UserId", u.username, u.following_count, u.home_version,
               (SELECT count FROM profile_edits) AS "profile_edits!",
               now() - make_interval(secs => $3) AS "posts_settled_before!",
               -- `ORDER BY … LIMIT 1` keeps this a walk of `posts_newest` from the newest post
               -- down to `since`, whatever the plan's guess of how many posts lie past it.
               (SELECT p.id FROM posts p
                WHERE p.created_at > $2
                  AND (p.author_id = $1
                       OR EXISTS (SELECT 1 FROM followers f
                                  WHERE f.follower_id = $1 AND f.followed_id = p.author_id
                                  OFFSET 0))
                ORDER BY p.created_at DESC, p.id DESC LIMIT 1) IS NOT NULL AS "posted_since!"
        FROM users u WHERE u.id = $1
        "#,
        id.get(),
        since.unwrap_or(time::macros::datetime!(9999-01-01 0:00 UTC)),
        POSTS_COMMIT_WITHIN.as_secs_f64(),
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|row| HomeStamp {
        signed_in: SignedIn {
            user: CurrentUser {
                id: row.id,
                username: row.username,
            },
            following_count: row.following_count,
        },
        home_version: row.home_version,
        profile_edits: row.profile_edits,
        posts_settled_before: row.posts_settled_before,
        posted_since: row.posted_since,
    }))
}

/// The signed-in person, with how many people they follow: the home feed's query depends on
/// it, and a page that reads the person anyway spares the feed a statement.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: CurrentUser,
    pub following_count: i64,
}

/// A profile as `viewer` sees it (whether they follow it, whether it is theirs).
pub async fn profile(
    pool: &PgPool,
    viewer: Option<UserId>,
    username: &Username,
) -> Result<Profile, AppError> {
    let row = sqlx::query!(
        r#"
        SELECT u.id AS "id: UserId", u.username, u.email, u.about_me, u.last_seen,
               u.followers_count, u.following_count, now() AS "now!",
               EXISTS (SELECT 1 FROM followers f
                       WHERE f.follower_id = $2 AND f.followed_id = u.id) AS "followed_by_viewer!",
               EXISTS (SELECT 1 FROM followers f
                       WHERE f.follower_id = u.id AND f.followed_id = $2) AS "follows_viewer!"
        FROM users u
        WHERE lower(u.username) = lower($1)
        "#,
        username.as_str(),
        viewer.map(UserId::get),
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| AppError::user_not_found(username.as_str()))?;
    let is_me = viewer == Some(row.id);
    Ok(Profile {
        avatar_url: avatar_url(&row.email, PROFILE_AVATAR_SIZE),
        username: row.username,
        about_me: row.about_me,
        last_seen: timestamp(row.last_seen, row.now),
        followers_count: row.followers_count,
        following_count: row.following_count,
        is_me,
        followed_by_me: (viewer.is_some() && !is_me).then_some(row.followed_by_viewer),
        follows_me: row.follows_viewer && !is_me,
    })
}

pub struct EditableProfile {
    pub username: String,
    pub about_me: Option<String>,
}

pub async fn editable_profile(pool: &PgPool, id: UserId) -> Result<EditableProfile, AppError> {
    sqlx::query_as!(
        EditableProfile,
        "SELECT username, about_me FROM users WHERE id = $1",
        id.get()
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(AppError::sign_in_required)
}

pub async fn update_profile(
    pool: &PgPool,
    id: UserId,
    username: &Username,
    about_me: &AboutMe,
) -> Result<(), AppError> {
    sqlx::query!(
        "UPDATE users SET username = $2, about_me = $3 WHERE id = $1",
        id.get(),
        username.as_str(),
        about_me.as_deref(),
    )
    .execute(pool)
    .await
    .map_err(map_unique_violation)?;
    Ok(())
}

/// The id of a user by name (any case), or NotFound with the spec's message.
pub async fn id_by_username(pool: &PgPool, username: &Username) -> Result<UserId, AppError> {
    sqlx::query_scalar!(
        r#"SELECT id AS "id: UserId" FROM users WHERE lower(username) = lower($1)"#,
        username.as_str()
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| AppError::user_not_found(username.as_str()))
}
