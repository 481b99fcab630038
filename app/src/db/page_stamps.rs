//! What the page cache (server/src/page_cache.rs) checks a kept page against: one statement
//! per view, read together with the signed-in viewer (refreshing their `last_seen` as
//! `users::current_user` does), so a view served from the cache costs that statement after
//! the session's.

use crate::db::users::SignedIn;
use crate::domain::Username;
use crate::error::AppError;
use crate::model::{CurrentUser, UserId};
use sqlx::PgPool;
use time::OffsetDateTime;

/// What a reader's kept home page is checked against.
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
        since.unwrap_or(NO_PAGE_KEPT),
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

/// No kept page can show a post begun after this, as for every stamp.
const NO_PAGE_KEPT: OffsetDateTime = time::macros::datetime!(9999-01-01 0:00 UTC);

fn signed_in(
    id: Option<UserId>,
    username: Option<String>,
    following_count: Option<i64>,
) -> Option<SignedIn> {
    Some(SignedIn {
        user: CurrentUser {
            id: id?,
            username: username?,
        },
        following_count: following_count?,
    })
}

/// What explore's kept first page is checked against: its posts are anyone's, so any new post
/// or anyone's new name or avatar changes it.
#[derive(Debug, Clone)]
pub struct ExploreStamp {
    /// The viewer asked for, if signed in and their account is still there.
    pub viewer: Option<SignedIn>,
    pub profile_edits: i64,
    pub posts_settled_before: OffsetDateTime,
    /// Whether anyone has a post begun after `since`.
    pub posted_since: bool,
}

/// Explore's stamp, as `viewer` (if signed in) asks for the page; `since` as for `home_stamp`.
pub async fn explore_stamp(
    pool: &PgPool,
    viewer: Option<UserId>,
    since: Option<OffsetDateTime>,
) -> Result<ExploreStamp, AppError> {
    let row = sqlx::query!(
        r#"
        WITH touched AS (
            UPDATE users SET last_seen = now()
            WHERE id = $1 AND last_seen < now() - interval '1 minute'
        )
        SELECT viewer.id AS "viewer_id?: UserId", viewer.username AS "viewer_username?",
               viewer.following_count AS "viewer_following_count?",
               (SELECT count FROM profile_edits) AS "profile_edits!",
               now() - make_interval(secs => $3) AS "posts_settled_before!",
               -- As in `home_stamp`: a walk of `posts_newest` down to `since`. As an `EXISTS`
               -- its generic plan scanned the whole table (68 ms a view on the bench data).
               (SELECT p.id FROM posts p WHERE p.created_at > $2
                ORDER BY p.created_at DESC, p.id DESC LIMIT 1) IS NOT NULL AS "posted_since!"
        FROM (SELECT) AS one
        LEFT JOIN users viewer ON viewer.id = $1
        "#,
        viewer.map(UserId::get),
        since.unwrap_or(NO_PAGE_KEPT),
        POSTS_COMMIT_WITHIN.as_secs_f64(),
    )
    .fetch_one(pool)
    .await?;
    Ok(ExploreStamp {
        viewer: signed_in(
            row.viewer_id,
            row.viewer_username,
            row.viewer_following_count,
        ),
        profile_edits: row.profile_edits,
        posts_settled_before: row.posts_settled_before,
        posted_since: row.posted_since,
    })
}

/// What a profile's kept first page is checked against. Everything on it is its owner's: their
/// row (counts, about, name and avatar, all moving `home_version`), when they were last seen,
/// their posts. How the viewer stands to them picks which of the kept pages is theirs.
#[derive(Debug, Clone)]
pub struct ProfileStamp {
    pub viewer: Option<SignedIn>,
    pub owner: UserId,
    pub owner_version: i64,
    pub owner_last_seen: OffsetDateTime,
    pub followed_by_viewer: bool,
    pub follows_viewer: bool,
    pub posts_settled_before: OffsetDateTime,
    /// Whether the owner has a post begun after `since`.
    pub posted_since: bool,
}

/// The stamp of `username`'s profile as `viewer` asks for it; `None` when nobody has that name.
pub async fn profile_stamp(
    pool: &PgPool,
    viewer: Option<UserId>,
    username: &Username,
    since: Option<OffsetDateTime>,
) -> Result<Option<ProfileStamp>, AppError> {
    let row = sqlx::query!(
        r#"
        WITH touched AS (
            UPDATE users SET last_seen = now()
            WHERE id = $1 AND last_seen < now() - interval '1 minute'
        )
        SELECT viewer.id AS "viewer_id?: UserId", viewer.username AS "viewer_username?",
               viewer.following_count AS "viewer_following_count?",
               owner.id AS "owner_id: UserId", owner.home_version AS owner_version,
               owner.last_seen AS owner_last_seen,
               EXISTS (SELECT 1 FROM followers f
                       WHERE f.follower_id = $1 AND f.followed_id = owner.id) AS "followed_by_viewer!",
               EXISTS (SELECT 1 FROM followers f
                       WHERE f.follower_id = owner.id AND f.followed_id = $1) AS "follows_viewer!",
               now() - make_interval(secs => $4) AS "posts_settled_before!",
               (SELECT p.id FROM posts p WHERE p.author_id = owner.id AND p.created_at > $3
                ORDER BY p.created_at DESC, p.id DESC LIMIT 1) IS NOT NULL AS "posted_since!"
        FROM users owner
        LEFT JOIN users viewer ON viewer.id = $1
        WHERE lower(owner.username) = lower($2)
        "#,
        viewer.map(UserId::get),
        username.as_str(),
        since.unwrap_or(NO_PAGE_KEPT),
        POSTS_COMMIT_WITHIN.as_secs_f64(),
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|row| ProfileStamp {
        viewer: signed_in(
            row.viewer_id,
            row.viewer_username,
            row.viewer_following_count,
        ),
        owner: row.owner_id,
        owner_version: row.owner_version,
        owner_last_seen: row.owner_last_seen,
        followed_by_viewer: row.followed_by_viewer,
        follows_viewer: row.follows_viewer,
        posts_settled_before: row.posts_settled_before,
        posted_since: row.posted_since,
    }))
}
