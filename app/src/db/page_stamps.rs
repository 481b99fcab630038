//! What the page cache (server/src/page_cache/) checks a kept page against: one statement
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
    /// The database's snapshot when this was read: every post visible in it is shown by a
    /// page rendered after this read.
    pub posts_seen_at: PostsSnapshot,
    /// Whether the reader, or anyone they follow, has a post that was not visible at `since`.
    pub posted_since: bool,
}

/// A PostgreSQL snapshot (`pg_current_snapshot()`, as text): which transactions had committed
/// when it was taken. A kept page is known to show every post visible in the snapshot of its
/// last check, and a post is new to it exactly when its transaction (`posts.txid`) is not
/// visible there. Neither when the post began nor how long it waited to commit (behind a
/// batch of follows, say) matters: ids and times are handed out before commit, so a check by
/// either could miss a post that committed late.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostsSnapshot(pub String);

impl PostsSnapshot {
    /// Its `xmax` and `xmin`: of two snapshots of one database, the one taken later has
    /// neither smaller, so comparing these pairs orders snapshots by when they were taken.
    fn bounds(&self) -> (u64, u64) {
        let mut numbers = self.0.split(':').map(|part| part.parse().unwrap_or(0));
        let xmin = numbers.next().unwrap_or(0);
        let xmax = numbers.next().unwrap_or(0);
        (xmax, xmin)
    }
}

impl PartialOrd for PostsSnapshot {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PostsSnapshot {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.bounds()
            .cmp(&other.bounds())
            .then_with(|| self.0.cmp(&other.0))
    }
}

/// The reader's `HomeStamp`; `since` is the snapshot in which a kept page is known to show
/// every post (the `posts_seen_at` of its last check).
///
/// The posts not visible in `since` are walked on `posts_by_transaction` from its `xmin`
/// (the oldest transaction then running) and each author checked with a probe of
/// `followers_pkey`: `since` moves up after every check that finds nothing, so the walk covers
/// only the posts of the last moments.
pub async fn home_stamp(
    pool: &PgPool,
    id: UserId,
    since: Option<&PostsSnapshot>,
) -> Result<Option<HomeStamp>, AppError> {
    let row = sqlx::query!(
        r#"
        WITH touched AS (
            UPDATE users SET last_seen = now()
            WHERE id = $1 AND last_seen < now() - interval '1 minute'
        )
        SELECT u.id AS "id: UserId", u.username, u.following_count, u.home_version,
               (SELECT count FROM profile_edits) AS "profile_edits!",
               pg_current_snapshot()::text AS "posts_seen_at!",
               -- `ORDER BY … LIMIT 1` keeps this a walk of `posts_by_transaction` from
               -- `since`'s xmin, whatever the generic plan's guess of how many posts lie
               -- past it (as an `EXISTS`, such a plan scanned the whole table).
               (SELECT p.id FROM posts p
                WHERE p.txid >= pg_snapshot_xmin($2::text::pg_snapshot)
                  AND NOT pg_visible_in_snapshot(p.txid, $2::text::pg_snapshot)
                  AND (p.author_id = $1
                       OR EXISTS (SELECT 1 FROM followers f
                                  WHERE f.follower_id = $1 AND f.followed_id = p.author_id
                                  OFFSET 0))
                ORDER BY p.txid LIMIT 1) IS NOT NULL AS "posted_since!"
        FROM users u WHERE u.id = $1
        "#,
        id.get(),
        since.map(|snapshot| snapshot.0.as_str()),
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
        posts_seen_at: PostsSnapshot(row.posts_seen_at),
        posted_since: row.posted_since,
    }))
}

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
    pub posts_seen_at: PostsSnapshot,
    /// Whether anyone has a post not visible at `since`.
    pub posted_since: bool,
}

/// Explore's stamp, as `viewer` (if signed in) asks for the page; `since` as for `home_stamp`.
pub async fn explore_stamp(
    pool: &PgPool,
    viewer: Option<UserId>,
    since: Option<&PostsSnapshot>,
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
               pg_current_snapshot()::text AS "posts_seen_at!",
               -- As in `home_stamp`: a walk of `posts_by_transaction` from `since`'s xmin.
               (SELECT p.id FROM posts p
                WHERE p.txid >= pg_snapshot_xmin($2::text::pg_snapshot)
                  AND NOT pg_visible_in_snapshot(p.txid, $2::text::pg_snapshot)
                ORDER BY p.txid LIMIT 1) IS NOT NULL AS "posted_since!"
        FROM (SELECT) AS one
        LEFT JOIN users viewer ON viewer.id = $1
        "#,
        viewer.map(UserId::get),
        since.map(|snapshot| snapshot.0.as_str()),
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
        posts_seen_at: PostsSnapshot(row.posts_seen_at),
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
    pub posts_seen_at: PostsSnapshot,
    /// Whether the owner has a post not visible at `since`.
    pub posted_since: bool,
}

/// The stamp of `username`'s profile as `viewer` asks for it; `None` when nobody has that name.
pub async fn profile_stamp(
    pool: &PgPool,
    viewer: Option<UserId>,
    username: &Username,
    since: Option<&PostsSnapshot>,
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
               pg_current_snapshot()::text AS "posts_seen_at!",
               (SELECT p.id FROM posts p
                WHERE p.txid >= pg_snapshot_xmin($3::text::pg_snapshot)
                  AND NOT pg_visible_in_snapshot(p.txid, $3::text::pg_snapshot)
                  AND p.author_id = owner.id
                ORDER BY p.txid LIMIT 1) IS NOT NULL AS "posted_since!"
        FROM users owner
        LEFT JOIN users viewer ON viewer.id = $1
        WHERE lower(owner.username) = lower($2)
        "#,
        viewer.map(UserId::get),
        username.as_str(),
        since.map(|snapshot| snapshot.0.as_str()),
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
        posts_seen_at: PostsSnapshot(row.posts_seen_at),
        posted_since: row.posted_since,
    }))
}
