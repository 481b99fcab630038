//! Who follows whom. Changes are made by one statement, alone or in a batch
//! (`follow_queue`), each idempotent; the counters on `users` are kept by a trigger in that
//! statement's transaction, and read back by the same statement.

use crate::db::fetch_keyset_page;
use crate::domain::Username;
use crate::error::AppError;
use crate::model::{Direction, FollowState, Page, PageRequest, UserId, UserSummary};
use crate::present::{PageBound, avatar_url, cursor_of, into_page};
use sqlx::PgPool;
use time::OffsetDateTime;

/// Who makes a follow or unfollow: a user whose session the caller has loaded, or the user a
/// session claims to be, whose session (the session store's key) the changing statement checks
/// (`auth::SessionClaim` converts into one).
#[derive(Clone, Debug)]
pub enum Actor {
    Loaded(UserId),
    Claimed { user: UserId, session_key: String },
}

impl From<UserId> for Actor {
    fn from(user: UserId) -> Self {
        Actor::Loaded(user)
    }
}

/// One follow (`follow`) or unfollow by `by` of the person with id `target_id`, or, without
/// one, of whoever is called `username`. A button names the id of the person it was drawn
/// for, so a rename (and someone else taking the name) cannot redirect it; `username` is then
/// only what a refusal repeats back.
#[derive(Clone, Debug)]
pub struct FollowChange {
    pub by: Actor,
    pub target_id: Option<UserId>,
    pub username: Username,
    pub follow: bool,
}

impl FollowChange {
    pub fn new(by: impl Into<Actor>, username: &Username, follow: bool) -> Self {
        FollowChange {
            by: by.into(),
            target_id: None,
            username: username.clone(),
            follow,
        }
    }

    /// The same change, of the person with this id whatever their name is now.
    pub fn of_id(mut self, target_id: Option<UserId>) -> Self {
        self.target_id = target_id;
        self
    }
}

/// What one account may change, counted for the whole site by `change_follows`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FollowLimits {
    /// Follows plus unfollows at once, then one more every `per_change`; `None`: no limit.
    pub changes_burst: Option<u32>,
    pub per_change: std::time::Duration,
    /// A new follow is refused once someone follows max(this, 1.1 × their followers) people,
    /// as Mastodon does with 7,500; `None`: no cap.
    pub following_cap: Option<u32>,
}

impl FollowLimits {
    /// For tools and tests that make changes directly; people's changes go through
    /// `FollowQueue`, which applies the site's limits.
    pub const NONE: FollowLimits = FollowLimits {
        changes_burst: None,
        per_change: std::time::Duration::ZERO,
        following_cap: None,
    };
}

impl Default for FollowLimits {
    /// A person can follow everyone on a few list pages by hand (60 at once), then keep
    /// going at one change every 15 seconds (240 an hour); mass follow-and-unfollow churn is
    /// stopped within a second.
    fn default() -> Self {
        FollowLimits {
            changes_burst: Some(60),
            per_change: std::time::Duration::from_secs(15),
            following_cap: Some(7_500),
        }
    }
}

/// `by` follows `username`. Following someone already followed changes nothing. A claimed
/// actor whose session has ended gets a 401 and changes nothing.
pub async fn follow(
    pool: &PgPool,
    by: impl Into<Actor>,
    username: &Username,
) -> Result<FollowState, AppError> {
    change_one(
        pool,
        FollowChange::new(by, username, true),
        FollowLimits::NONE,
    )
    .await
}

/// `by` stops following `username`. Unfollowing someone not followed changes nothing.
pub async fn unfollow(
    pool: &PgPool,
    by: impl Into<Actor>,
    username: &Username,
) -> Result<FollowState, AppError> {
    change_one(
        pool,
        FollowChange::new(by, username, false),
        FollowLimits::NONE,
    )
    .await
}

/// One change made alone: a batch of one.
pub(crate) async fn change_one(
    pool: &PgPool,
    change: FollowChange,
    limits: FollowLimits,
) -> Result<FollowState, AppError> {
    let mut answers = change_together(pool, std::slice::from_ref(&change), limits).await?;
    answers.pop().ok_or_else(|| {
        tracing::error!("change_follows answered nothing for a change");
        AppError::Internal
    })?
}

/// A row of `change_follows`: one change's outcome, and the other person after it.
struct ChangeAnswer {
    outcome: String,
    username: Option<String>,
    followers_count: Option<i64>,
    following_count: Option<i64>,
    retry_after: Option<sqlx::postgres::types::PgInterval>,
}

/// Makes `changes` in one statement and one transaction, in order, and answers each: the
/// other person's counts as that change left them, or why it changed nothing. `r.change_follows`
/// (`db/logic/follows.sql`) says why those counts are right even when a change waited for another
/// change of the same link.
pub async fn change_together(
    pool: &PgPool,
    changes: &[FollowChange],
    limits: FollowLimits,
) -> Result<Vec<Result<FollowState, AppError>>, BatchFailed> {
    let mut actors = Vec::with_capacity(changes.len());
    let mut sessions = Vec::with_capacity(changes.len());
    for change in changes {
        let (me, session_key) = match &change.by {
            Actor::Loaded(user) => (*user, None),
            Actor::Claimed { user, session_key } => (*user, Some(session_key.as_str())),
        };
        actors.push(me.get());
        sessions.push(session_key);
    }
    let names: Vec<&str> = changes
        .iter()
        .map(|change| change.username.as_str())
        .collect();
    let target_ids: Vec<Option<i64>> = changes
        .iter()
        .map(|change| change.target_id.map(UserId::get))
        .collect();
    let follows: Vec<bool> = changes.iter().map(|change| change.follow).collect();
    let burst = limits
        .changes_burst
        .map(|burst| i32::try_from(burst).unwrap_or(i32::MAX));
    let cap = limits
        .following_cap
        .map(|cap| i32::try_from(cap).unwrap_or(i32::MAX));
    let rows = sqlx::query_as!(
        ChangeAnswer,
        r#"
        SELECT outcome AS "outcome!", username, followers_count, following_count, retry_after
        FROM r.change_follows($1, $2, $3, $4, $5, $6, $7, $8)
        ORDER BY ordinal
        "#,
        &actors,
        &target_ids as &[Option<i64>],
        &names as &[&str],
        &follows,
        &sessions as &[Option<&str>],
        burst,
        crate::db::limits::interval(limits.per_change),
        cap,
    )
    .fetch_all(pool)
    .await
    .map_err(BatchFailed::from)?;
    if rows.len() != changes.len() {
        // Committed, whatever it made: nothing to make again.
        tracing::error!(
            changes = changes.len(),
            answers = rows.len(),
            "change_follows answered a different number of changes"
        );
        return Err(BatchFailed::Whole(AppError::Internal));
    }
    Ok(rows.into_iter().zip(changes).map(answer).collect())
}

/// Why a call of `change_follows` made none of its changes.
#[derive(Debug)]
pub enum BatchFailed {
    /// One change may be at fault (a broken constraint, say a user who no longer exists) or
    /// the batch met another in a deadlock: each change made alone may well succeed.
    OneChange(AppError),
    /// The database is away, too busy or out of time, or answered what nobody expects: each
    /// change made alone would fail the same way, only later.
    Whole(AppError),
}

impl From<sqlx::Error> for BatchFailed {
    fn from(error: sqlx::Error) -> Self {
        let sqlstate = error
            .as_database_error()
            .and_then(|error| error.code())
            .unwrap_or_default();
        // Integrity violations (class 23), serialization failures and deadlocks.
        let one_change = sqlstate.starts_with("23") || matches!(&*sqlstate, "40001" | "40P01");
        let error = AppError::from(error);
        match one_change {
            true => BatchFailed::OneChange(error),
            false => BatchFailed::Whole(error),
        }
    }
}

impl From<BatchFailed> for AppError {
    fn from(failed: BatchFailed) -> Self {
        match failed {
            BatchFailed::OneChange(error) | BatchFailed::Whole(error) => error,
        }
    }
}

fn answer((row, change): (ChangeAnswer, &FollowChange)) -> Result<FollowState, AppError> {
    let ChangeAnswer {
        outcome,
        username,
        followers_count,
        following_count,
        retry_after,
    } = row;
    match (outcome.as_str(), username, followers_count, following_count) {
        ("done", Some(username), Some(followers_count), Some(following_count)) => Ok(FollowState {
            username,
            following: change.follow,
            followers_count,
            following_count,
        }),
        ("not_found", ..) => Err(AppError::user_not_found(change.username.as_str())),
        ("self", ..) if change.follow => Err(AppError::cannot_follow_self()),
        ("self", ..) => Err(AppError::cannot_unfollow_self()),
        ("session_ended", ..) => Err(AppError::sign_in_required()),
        ("too_many", ..) => {
            let wait = retry_after.map_or(1, |wait| {
                crate::db::limits::seconds_to_wait(std::time::Duration::from_micros(
                    u64::try_from(wait.microseconds).unwrap_or(0),
                ))
            });
            Err(AppError::too_many_follow_changes(wait))
        }
        ("following_cap", _, _, Some(cap)) => Err(AppError::following_cap(cap)),
        (outcome, ..) => {
            tracing::error!(outcome, "change_follows answered what nobody expects");
            Err(AppError::Internal)
        }
    }
}

struct LinkedUser {
    user_id: UserId,
    username: String,
    about_me: Option<String>,
    linked_at: OffsetDateTime,
    followed_by_viewer: bool,
    follows_viewer: bool,
}

/// A user's followers or followings, newest link first, as `viewer` sees them.
pub async fn list(
    pool: &PgPool,
    viewer: Option<UserId>,
    username: &Username,
    direction: Direction,
    request: PageRequest,
    page_size: i64,
) -> Result<Page<UserSummary>, AppError> {
    let owner = crate::db::users::id_by_username(pool, username)
        .await?
        .get();
    let viewer_id = viewer.map(UserId::get);
    let bound = PageBound::of(request);
    let limit = page_size + 1;
    // One query per direction: each walks its own index of `followers`, keyed on the owner's
    // side of the link.
    let rows = match direction {
        Direction::Followers => fetch_keyset_page!(
            pool,
            bound.walk,
            LinkedUser,
            r#"
                SELECT u.id AS "user_id: UserId", u.username, u.about_me, f.created_at AS linked_at,
                       EXISTS (SELECT 1 FROM followers mine
                               WHERE mine.follower_id = $2 AND mine.followed_id = u.id) AS "followed_by_viewer!",
                       EXISTS (SELECT 1 FROM followers theirs
                               WHERE theirs.follower_id = u.id AND theirs.followed_id = $2) AS "follows_viewer!"
                FROM followers f JOIN users u ON u.id = f.follower_id
                WHERE f.followed_id = $1 AND (f.created_at, f.follower_id) "#
                + past
                + " ($3, $4) ORDER BY f.created_at "
                + order
                + ", f.follower_id "
                + order
                + " LIMIT $5",
            owner,
            viewer_id,
            bound.at,
            bound.id,
            limit
        )?,
        Direction::Following => fetch_keyset_page!(
            pool,
            bound.walk,
            LinkedUser,
            r#"
                SELECT u.id AS "user_id: UserId", u.username, u.about_me, f.created_at AS linked_at,
                       EXISTS (SELECT 1 FROM followers mine
                               WHERE mine.follower_id = $2 AND mine.followed_id = u.id) AS "followed_by_viewer!",
                       EXISTS (SELECT 1 FROM followers theirs
                               WHERE theirs.follower_id = u.id AND theirs.followed_id = $2) AS "follows_viewer!"
                FROM followers f JOIN users u ON u.id = f.followed_id
                WHERE f.follower_id = $1 AND (f.created_at, f.followed_id) "#
                + past
                + " ($3, $4) ORDER BY f.created_at "
                + order
                + ", f.followed_id "
                + order
                + " LIMIT $5",
            owner,
            viewer_id,
            bound.at,
            bound.id,
            limit
        )?,
    };
    Ok(into_page(
        rows,
        request,
        page_size,
        |row| cursor_of(row.linked_at, row.user_id.get()),
        |row| UserSummary {
            id: row.user_id,
            avatar_url: avatar_url(row.user_id),
            username: row.username,
            about_me: row.about_me,
            followed_by_me: match viewer {
                Some(me) if me != row.user_id => Some(row.followed_by_viewer),
                _ => None,
            },
            follows_me: row.follows_viewer,
        },
    ))
}
