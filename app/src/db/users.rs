//! Accounts and profiles.

use crate::db::violated_constraint;
use crate::domain::{AboutMe, Email, Username};
use crate::error::AppError;
use crate::model::{CurrentUser, Profile, UserId};
use crate::present::{avatar_url, timestamp};
use sqlx::PgPool;
use time::OffsetDateTime;

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

/// The signed-in person, with how many people they follow: the home feed's query depends on
/// it, and a page that reads the person anyway spares the feed a statement.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: CurrentUser,
    pub following_count: i64,
}

/// A profile as `viewer` sees it (whether they follow it, whether it is theirs), and the
/// moment its "Last seen" counts from: a page showing it is kept only while that text reads the
/// same, which the text's whole seconds cannot tell.
pub struct ProfileRead {
    pub profile: Profile,
    pub last_seen: OffsetDateTime,
}

/// A profile as `viewer` sees it.
pub async fn profile(
    pool: &PgPool,
    viewer: Option<UserId>,
    username: &Username,
) -> Result<ProfileRead, AppError> {
    let row = sqlx::query!(
        r#"
        SELECT u.id AS "id: UserId", u.username, u.about_me, u.last_seen,
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
    let profile = Profile {
        id: row.id,
        avatar_url: avatar_url(row.id),
        username: row.username,
        about_me: row.about_me,
        last_seen: timestamp(row.last_seen, row.now),
        followers_count: row.followers_count,
        following_count: row.following_count,
        is_me,
        followed_by_me: (viewer.is_some() && !is_me).then_some(row.followed_by_viewer),
        follows_me: row.follows_viewer && !is_me,
    };
    Ok(ProfileRead {
        profile,
        last_seen: row.last_seen,
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
