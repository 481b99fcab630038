//! Accounts and profiles.

use crate::db::violated_constraint;
use crate::domain::{AboutMe, Email, Username, could_be_username};
use crate::error::AppError;
use crate::model::{CurrentUser, Profile};
use crate::present::{avatar_url, timestamp};
use sqlx::PgPool;

pub const PROFILE_AVATAR_SIZE: u32 = 128;

fn map_unique_violation(error: sqlx::Error) -> AppError {
    match violated_constraint(&error) {
        Some("users_username_unique") => {
            AppError::Conflict("That username is taken. Please use a different one.".into())
        }
        Some("users_email_unique") => {
            AppError::Conflict("That email address is already registered.".into())
        }
        _ => error.into(),
    }
}

pub async fn create_user(
    pool: &PgPool,
    username: &Username,
    email: &Email,
    password_hash: &str,
) -> Result<i64, AppError> {
    sqlx::query_scalar!(
        "INSERT INTO users (username, email, password_hash) VALUES ($1, $2, $3) RETURNING id",
        username.as_str(),
        email.as_str(),
        password_hash,
    )
    .fetch_one(pool)
    .await
    .map_err(map_unique_violation)
}

pub struct Credentials {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
}

pub async fn credentials(pool: &PgPool, username: &str) -> Result<Option<Credentials>, AppError> {
    if !could_be_username(username) {
        return Ok(None);
    }
    Ok(sqlx::query_as!(
        Credentials,
        "SELECT id, username, password_hash FROM users WHERE lower(username) = lower($1)",
        username,
    )
    .fetch_optional(pool)
    .await?)
}

/// The signed-in user, refreshing `last_seen` when it is more than a minute old, so an active
/// reader costs one write a minute rather than one a request.
pub async fn current_user(pool: &PgPool, id: i64) -> Result<Option<CurrentUser>, AppError> {
    Ok(sqlx::query_as!(
        CurrentUser,
        r#"
        WITH touched AS (
            UPDATE users SET last_seen = now()
            WHERE id = $1 AND last_seen < now() - interval '1 minute'
        )
        SELECT id, username FROM users WHERE id = $1
        "#,
        id,
    )
    .fetch_optional(pool)
    .await?)
}

/// A profile as `viewer` sees it (whether they follow it, whether it is theirs).
pub async fn profile(
    pool: &PgPool,
    viewer: Option<i64>,
    username: &str,
) -> Result<Profile, AppError> {
    if !could_be_username(username) {
        return Err(AppError::user_not_found(username));
    }
    let row = sqlx::query!(
        r#"
        SELECT u.id, u.username, u.email, u.about_me, u.last_seen,
               u.followers_count, u.following_count, now() AS "now!",
               EXISTS (SELECT 1 FROM followers f
                       WHERE f.follower_id = $2 AND f.followed_id = u.id) AS "followed_by_viewer!"
        FROM users u
        WHERE lower(u.username) = lower($1)
        "#,
        username,
        viewer,
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| AppError::user_not_found(username))?;
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
    })
}

pub struct EditableProfile {
    pub username: String,
    pub about_me: Option<String>,
}

pub async fn editable_profile(pool: &PgPool, id: i64) -> Result<EditableProfile, AppError> {
    sqlx::query_as!(
        EditableProfile,
        "SELECT username, about_me FROM users WHERE id = $1",
        id
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(AppError::sign_in_required)
}

pub async fn update_profile(
    pool: &PgPool,
    id: i64,
    username: &Username,
    about_me: &AboutMe,
) -> Result<(), AppError> {
    sqlx::query!(
        "UPDATE users SET username = $2, about_me = $3 WHERE id = $1",
        id,
        username.as_str(),
        about_me.as_deref(),
    )
    .execute(pool)
    .await
    .map_err(map_unique_violation)?;
    Ok(())
}

/// The id of a user by name (any case), or NotFound with the spec's message.
pub async fn id_by_username(pool: &PgPool, username: &str) -> Result<i64, AppError> {
    if !could_be_username(username) {
        return Err(AppError::user_not_found(username));
    }
    sqlx::query_scalar!(
        "SELECT id FROM users WHERE lower(username) = lower($1)",
        username
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| AppError::user_not_found(username))
}

/// Removes a user; their posts and links go with them (ON DELETE CASCADE).
pub async fn delete_user(pool: &PgPool, id: i64) -> Result<(), AppError> {
    sqlx::query!("DELETE FROM users WHERE id = $1", id)
        .execute(pool)
        .await?;
    Ok(())
}
