//! Posts and the lists they appear in: the home feed, a profile, explore.

use crate::db::fetch_keyset_page;
use crate::domain::{PostBody, Username};
use crate::error::AppError;
use crate::model::{PAGE_SIZE, Page, PageRequest, PostView, UserId};
use crate::present::{PageBound, Walk, avatar_url, cursor_of, into_page, timestamp};
use sqlx::PgPool;
use time::OffsetDateTime;

pub struct PostRow {
    pub id: i64,
    pub author: String,
    pub author_id: UserId,
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
            avatar_url: avatar_url(row.author_id),
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

/// How a home feed finds its page. Which walk is cheapest depends on how many users the reader
/// follows (F). Measured by `benchmarks/feed-walks.sql` on the bench data set (100,000 users,
/// 1M posts), mean ms per first page:
///
/// | F | `PerAuthor` | `AllPostsHashed` | `AllPostsProbed` |
/// | ---: | ---: | ---: | ---: |
/// | 500 | 1.9 | 20.8 | 85.6 |
/// | 1,000 | 3.7 | 0.68 | 1.22 |
/// | 2,000 | 7.1 | 0.97 | 0.90 |
/// | 5,000 | 19.7 | 1.89 | 0.40 |
///
/// The walks of all posts skip about `users / F` posts per post kept, so where they start to pay
/// grows with the square root of the number of users; the switches below are this data set's.
/// From `TIMELINE_FROM` follows a reader has a timeline, whose page costs what the page's rows
/// cost: the heavy reader's (F = 5,000) page went from p50 1.3–2.2 ms by `AllPostsProbed` to
/// 0.34–0.55 ms, as a page runs it (`bench-tools bench-feed`, alternated; BENCHMARKS.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedWalk {
    /// For each followed author take at most a page of their posts past the cursor from
    /// `posts_author_newest` (index-only), then keep the newest page of those. Work grows with
    /// the number of authors followed, never with how much they posted.
    PerAuthor,
    /// Walk `posts_newest` from the cursor and keep the posts whose author is in a hash of the
    /// followed ids. Building the hash costs about 0.3 µs per followed user on every query.
    AllPostsHashed,
    /// Walk `posts_newest` from the cursor and look each post's author up in `followers_pkey`.
    /// No hash to build, but a probe per post walked, so it wins once few posts are skipped.
    AllPostsProbed,
    /// Read the page from the reader's timeline (`timeline_posts`, filled on write), and walk
    /// as `AllPostsProbed` when the reader has none or it cannot vouch for the page (see
    /// `timeline_page`).
    Timeline,
}

/// How many people a reader follows when their timeline starts, and their feed starts to read
/// it: the database reads it too, as `r.timeline_from()`, which `db::logic` writes from it.
pub const TIMELINE_FROM: i64 = 2_000;

impl FeedWalk {
    pub const ALL: [FeedWalk; 4] = [
        FeedWalk::PerAuthor,
        FeedWalk::AllPostsHashed,
        FeedWalk::AllPostsProbed,
        FeedWalk::Timeline,
    ];

    pub fn for_following(following: i64) -> FeedWalk {
        match following {
            ..1_000 => FeedWalk::PerAuthor,
            1_000..TIMELINE_FROM => FeedWalk::AllPostsHashed,
            _ => FeedWalk::Timeline,
        }
    }
}

/// The home feed of `me`: posts by the users `me` follows and by `me`, newest first, a page of
/// `PAGE_SIZE`.
///
/// One feed query per page, keyset-paginated on (created_at, id), so page 50 costs what page 1
/// does. Which query is chosen by how many users `me` follows (`FeedWalk`), read first from the
/// counter on `users`. None sorts the followed authors' posts, and only the page's rows touch
/// `posts` for bodies.
///
/// `known_following` is `me`'s `following_count` when the caller has just read it (a page
/// reads it with the signed-in user), which saves the feed a statement. It only picks the
/// query: a count a moment old gives the same posts.
pub async fn followed_posts(
    pool: &PgPool,
    me: UserId,
    known_following: Option<i64>,
    request: PageRequest,
) -> Result<Page<PostView>, AppError> {
    let following = match known_following {
        Some(count) => count,
        None => sqlx::query_scalar!("SELECT following_count FROM users WHERE id = $1", me.get())
            .fetch_optional(pool)
            .await?
            .ok_or_else(AppError::account_gone)?,
    };
    followed_posts_by(pool, me, FeedWalk::for_following(following), request).await
}

// PostgreSQL plans each statement for its first few runs, then keeps a generic plan, which is
// what saves the per-author walk its 1.8 ms of planning. A generic plan that does not know it
// reads one page hash-joins every post: 27 ms at page 1 and 218 ms at page 50 for the walks of
// all posts. So they write the page's size into the statement, and their generic plan is the
// good one.
const _: () = assert!(
    PAGE_SIZE + 1 == 21,
    "the walks of all posts, the timeline's page and explore say LIMIT 21"
);

/// `followed_posts` by a given walk, so tests can prove every walk gives the same feed.
pub async fn followed_posts_by(
    pool: &PgPool,
    me: UserId,
    walk: FeedWalk,
    request: PageRequest,
) -> Result<Page<PostView>, AppError> {
    let bound = PageBound::of(request);
    let rows = match walk {
        FeedWalk::PerAuthor => followed_posts_per_author(pool, me, bound, PAGE_SIZE + 1).await?,
        FeedWalk::AllPostsHashed => followed_posts_hashed(pool, me, bound).await?,
        FeedWalk::AllPostsProbed => followed_posts_probed(pool, me, bound).await?,
        FeedWalk::Timeline => match timeline_page(pool, me, bound).await? {
            Some(rows) => rows,
            None => followed_posts_probed(pool, me, bound).await?,
        },
    };
    Ok(present(rows, request, PAGE_SIZE))
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
        SELECT page.id AS "id!", u.username AS author, u.id AS "author_id: UserId", posts.body,
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

/// A walk of all posts from the cursor, newest or oldest first, keeping a page of those by `me`
/// or by someone `followed` (an SQL condition on `p.author_id`, written into the statement).
macro_rules! walk_all_posts {
    ($pool:expr, $me:expr, $bound:expr, followed: $followed:literal) => {
        fetch_keyset_page!(
            $pool,
            $bound.walk,
            PostRow,
            r#"
            SELECT page.id AS "id!", u.username AS author, u.id AS "author_id: UserId", posts.body,
                   page.created_at AS "created_at!"
            FROM (
                SELECT p.id, p.author_id, p.created_at
                FROM posts p
                WHERE (p.created_at, p.id) "#
                + past
                + " ($2, $3) AND (p.author_id = $1 OR "
                + $followed
                + r#")
                ORDER BY p.created_at "#
                + order
                + ", p.id "
                + order
                + r#"
                LIMIT 21
            ) AS page
            JOIN posts ON posts.id = page.id
            JOIN users u ON u.id = page.author_id
            ORDER BY page.created_at "#
                + order
                + ", page.id "
                + order,
            $me.get(),
            $bound.at,
            $bound.id,
        )
    };
}

async fn followed_posts_hashed(
    pool: &PgPool,
    me: UserId,
    bound: PageBound,
) -> Result<Vec<PostRow>, AppError> {
    Ok(walk_all_posts!(pool, me, bound,
        followed: "p.author_id IN (SELECT followed_id FROM followers WHERE follower_id = $1)")?)
}

// `OFFSET 0` keeps the `EXISTS` a probe per post: PostgreSQL turns an `EXISTS` into a hashed
// subplan (the hash `followed_posts_hashed` builds) only when the subquery has no LIMIT or
// OFFSET. Under an OR it cannot become a semi-join either.
async fn followed_posts_probed(
    pool: &PgPool,
    me: UserId,
    bound: PageBound,
) -> Result<Vec<PostRow>, AppError> {
    Ok(walk_all_posts!(pool, me, bound,
        followed: "EXISTS (SELECT FROM followers f
                           WHERE f.follower_id = $1 AND f.followed_id = p.author_id OFFSET 0)")?)
}

struct TimelineRow {
    complete_since: OffsetDateTime,
    id: Option<i64>,
    author: Option<String>,
    author_id: Option<UserId>,
    body: Option<String>,
    created_at: Option<OffsetDateTime>,
}

/// The page from `me`'s timeline, or `None` when `me` has no timeline or it cannot vouch for
/// the page. A timeline holds every post of the feed from its `complete_since` on
/// (`app/src/db/logic/timelines.sql`), so a page walking older is whole when it found a full page
/// (nothing it skipped can be newer than its last row), and a page walking newer is whole when
/// it starts inside the timeline.
async fn timeline_page(
    pool: &PgPool,
    me: UserId,
    bound: PageBound,
) -> Result<Option<Vec<PostRow>>, AppError> {
    let rows = fetch_keyset_page!(
        pool,
        bound.walk,
        TimelineRow,
        r#"
        SELECT t.complete_since, page.id AS "id?", page.author AS "author?",
               page.author_id AS "author_id?: UserId", page.body AS "body?", page.created_at AS "created_at?"
        FROM timelines t
        LEFT JOIN LATERAL (
            SELECT tp.post_id AS id, u.username AS author, u.id AS author_id, p.body, tp.created_at
            FROM (
                SELECT post_id, created_at FROM timeline_posts
                WHERE reader_id = t.reader_id AND (created_at, post_id) "#
            + past
            + r#" ($2, $3)
                ORDER BY created_at "#
            + order
            + ", post_id "
            + order
            + r#"
                LIMIT 21
            ) AS tp
            JOIN posts p ON p.id = tp.post_id
            JOIN users u ON u.id = p.author_id
        ) AS page ON true
        WHERE t.reader_id = $1
        ORDER BY page.created_at "#
            + order
            + ", page.id "
            + order,
        me.get(),
        bound.at,
        bound.id,
    )?;
    let Some(complete_since) = rows.first().map(|row| row.complete_since) else {
        return Ok(None);
    };
    // A row without a post is the timeline's own, when the page is empty: the lateral page
    // is joined whole, so its columns are all there or all missing.
    let rows: Vec<PostRow> = rows
        .into_iter()
        .filter_map(|row| {
            Some(PostRow {
                id: row.id?,
                author: row.author?,
                author_id: row.author_id?,
                body: row.body?,
                created_at: row.created_at?,
            })
        })
        .collect();
    let whole = match bound.walk {
        Walk::TowardsOlder => rows.len() as i64 > PAGE_SIZE,
        Walk::TowardsNewer => bound.at >= complete_since,
    };
    Ok(whole.then_some(rows))
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
        r#"SELECT p.id, u.username AS author, u.id AS "author_id: UserId", p.body, p.created_at
         FROM posts p JOIN users u ON u.id = p.author_id
         WHERE p.author_id = $1 AND (p.created_at, p.id) "#
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

/// Every post, newest first, a page of `PAGE_SIZE`.
///
/// The limit is written into the statement, as in the walks of the home feed: with it bound,
/// PostgreSQL priced its generic plan for a tenth of all posts and so planned every run
/// afresh, 0.21 ms of planning for 0.11 ms of execution (`pg_stat_statements` under the soak).
pub async fn explore(pool: &PgPool, request: PageRequest) -> Result<Page<PostView>, AppError> {
    let bound = PageBound::of(request);
    let rows = fetch_keyset_page!(
        pool,
        bound.walk,
        PostRow,
        r#"SELECT p.id, u.username AS author, u.id AS "author_id: UserId", p.body, p.created_at
         FROM posts p JOIN users u ON u.id = p.author_id
         WHERE (p.created_at, p.id) "#
            + past
            + " ($1, $2) ORDER BY p.created_at "
            + order
            + ", p.id "
            + order
            + " LIMIT 21",
        bound.at,
        bound.id,
    )?;
    Ok(present(rows, request, PAGE_SIZE))
}
