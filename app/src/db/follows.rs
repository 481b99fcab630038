//! Who follows whom. Every change is one transaction whose writes are single idempotent
//! statements; the counters on `users` are kept by a trigger in that same transaction.

use crate::db::violated_constraint;
use crate::domain::could_be_username;
use crate::error::AppError;
use crate::model::{FollowState, Page, PageRequest, UserSummary};
use crate::present::{avatar_url, cursor_of, into_page, page_bound};
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

pub const LIST_AVATAR_SIZE: u32 = 48;

struct Target {
    id: i64,
    username: String,
}

/// `me` follows `username`. Following someone already followed changes nothing.
pub async fn follow(pool: &PgPool, me: i64, username: &str) -> Result<FollowState, AppError> {
    if !could_be_username(username) {
        return Err(AppError::user_not_found(username));
    }
    let mut tx = pool.begin().await?;
    let target = sqlx::query_as!(
        Target,
        r#"
        WITH target AS (SELECT id, username FROM users WHERE lower(username) = lower($2)),
             linked AS (
                INSERT INTO followers (follower_id, followed_id)
                SELECT $1, id FROM target
                ON CONFLICT (follower_id, followed_id) DO NOTHING
             )
        SELECT id AS "id!", username AS "username!" FROM target
        "#,
        me,
        username,
    )
    .fetch_optional(&mut *tx)
    .await
    .map_err(|error| match violated_constraint(&error) {
        Some("user_cannot_follow_self") => {
            AppError::BadRequest("You cannot follow yourself!".into())
        }
        _ => error.into(),
    })?
    .ok_or_else(|| AppError::user_not_found(username))?;
    let state = state_after(&mut tx, target, true).await?;
    tx.commit().await?;
    Ok(state)
}

/// `me` stops following `username`. Unfollowing someone not followed changes nothing.
pub async fn unfollow(pool: &PgPool, me: i64, username: &str) -> Result<FollowState, AppError> {
    if !could_be_username(username) {
        return Err(AppError::user_not_found(username));
    }
    let mut tx = pool.begin().await?;
    let target = sqlx::query_as!(
        Target,
        r#"
        WITH target AS (SELECT id, username FROM users WHERE lower(username) = lower($2)),
             unlinked AS (
                DELETE FROM followers
                WHERE follower_id = $1 AND followed_id IN (SELECT id FROM target)
             )
        SELECT id AS "id!", username AS "username!" FROM target
        "#,
        me,
        username,
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::user_not_found(username))?;
    if target.id == me {
        return Err(AppError::BadRequest("You cannot unfollow yourself!".into()));
    }
    let state = state_after(&mut tx, target, false).await?;
    tx.commit().await?;
    Ok(state)
}

async fn state_after(
    tx: &mut PgConnection,
    target: Target,
    following: bool,
) -> Result<FollowState, AppError> {
    let counts = sqlx::query!(
        "SELECT followers_count, following_count FROM users WHERE id = $1",
        target.id
    )
    .fetch_one(&mut *tx)
    .await?;
    let message = if following {
        format!("You are following {}!", target.username)
    } else {
        format!("You are not following {}.", target.username)
    };
    Ok(FollowState {
        username: target.username,
        following,
        followers_count: counts.followers_count,
        following_count: counts.following_count,
        message,
    })
}

pub async fn is_following(pool: &PgPool, follower: i64, followed: i64) -> Result<bool, AppError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM followers WHERE follower_id = $1 AND followed_id = $2) AS "following!""#,
        follower,
        followed,
    )
    .fetch_one(pool)
    .await?)
}

pub struct Counts {
    pub followers: i64,
    pub following: i64,
}

pub async fn counts(pool: &PgPool, user: i64) -> Result<Counts, AppError> {
    Ok(sqlx::query_as!(
        Counts,
        "SELECT followers_count AS followers, following_count AS following FROM users WHERE id = $1",
        user
    )
    .fetch_optional(pool)
    .await?
    .unwrap_or(Counts {
        followers: 0,
        following: 0,
    }))
}

struct LinkedUser {
    user_id: i64,
    username: String,
    email: String,
    about_me: Option<String>,
    linked_at: OffsetDateTime,
    followed_by_viewer: bool,
}

pub use crate::model::Direction;

/// A user's followers or followings, newest link first, as `viewer` sees them.
pub async fn list(
    pool: &PgPool,
    viewer: Option<i64>,
    username: &str,
    direction: Direction,
    request: PageRequest,
    page_size: i64,
) -> Result<Page<UserSummary>, AppError> {
    let owner = crate::db::users::id_by_username(pool, username).await?;
    let (at, id, walking_newer) = page_bound(request);
    let limit = page_size + 1;
    // Four spelled-out queries rather than one with CASEs: each must match its index exactly.
    let rows = match (direction, walking_newer) {
        (Direction::Followers, false) => {
            sqlx::query_as!(
                LinkedUser,
                r#"
                SELECT u.id AS user_id, u.username, u.email, u.about_me, f.created_at AS linked_at,
                       EXISTS (SELECT 1 FROM followers mine
                               WHERE mine.follower_id = $2 AND mine.followed_id = u.id) AS "followed_by_viewer!"
                FROM followers f JOIN users u ON u.id = f.follower_id
                WHERE f.followed_id = $1 AND (f.created_at, f.follower_id) < ($3, $4)
                ORDER BY f.created_at DESC, f.follower_id DESC
                LIMIT $5
                "#,
                owner, viewer, at, id, limit
            )
            .fetch_all(pool)
            .await?
        }
        (Direction::Followers, true) => {
            sqlx::query_as!(
                LinkedUser,
                r#"
                SELECT u.id AS user_id, u.username, u.email, u.about_me, f.created_at AS linked_at,
                       EXISTS (SELECT 1 FROM followers mine
                               WHERE mine.follower_id = $2 AND mine.followed_id = u.id) AS "followed_by_viewer!"
                FROM followers f JOIN users u ON u.id = f.follower_id
                WHERE f.followed_id = $1 AND (f.created_at, f.follower_id) > ($3, $4)
                ORDER BY f.created_at ASC, f.follower_id ASC
                LIMIT $5
                "#,
                owner, viewer, at, id, limit
            )
            .fetch_all(pool)
            .await?
        }
        (Direction::Following, false) => {
            sqlx::query_as!(
                LinkedUser,
                r#"
                SELECT u.id AS user_id, u.username, u.email, u.about_me, f.created_at AS linked_at,
                       EXISTS (SELECT 1 FROM followers mine
                               WHERE mine.follower_id = $2 AND mine.followed_id = u.id) AS "followed_by_viewer!"
                FROM followers f JOIN users u ON u.id = f.followed_id
                WHERE f.follower_id = $1 AND (f.created_at, f.followed_id) < ($3, $4)
                ORDER BY f.created_at DESC, f.followed_id DESC
                LIMIT $5
                "#,
                owner, viewer, at, id, limit
            )
            .fetch_all(pool)
            .await?
        }
        (Direction::Following, true) => {
            sqlx::query_as!(
                LinkedUser,
                r#"
                SELECT u.id AS user_id, u.username, u.email, u.about_me, f.created_at AS linked_at,
                       EXISTS (SELECT 1 FROM followers mine
                               WHERE mine.follower_id = $2 AND mine.followed_id = u.id) AS "followed_by_viewer!"
                FROM followers f JOIN users u ON u.id = f.followed_id
                WHERE f.follower_id = $1 AND (f.created_at, f.followed_id) > ($3, $4)
                ORDER BY f.created_at ASC, f.followed_id ASC
                LIMIT $5
                "#,
                owner, viewer, at, id, limit
            )
            .fetch_all(pool)
            .await?
        }
    };
    Ok(into_page(
        rows,
        request,
        page_size,
        |row| cursor_of(row.linked_at, row.user_id),
        |row| UserSummary {
            avatar_url: avatar_url(&row.email, LIST_AVATAR_SIZE),
            username: row.username,
            about_me: row.about_me,
            followed_by_me: match viewer {
                Some(me) if me != row.user_id => Some(row.followed_by_viewer),
                _ => None,
            },
        },
    ))
}
