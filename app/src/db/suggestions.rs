//! Who to follow: people followed by the people a reader follows, ranked and kept for a
//! while (table `suggestions`), or the most-followed of the recently active.

use crate::error::AppError;
use crate::model::{UserId, UserSummary};
use crate::present::avatar_url;
use sqlx::PgPool;

/// A row of `kept_or_given_suggestions`: `ranked` says whether there was a ranking to read;
/// the person's columns are empty in the one row that stands for an empty pick.
struct PickedSuggestion {
    ranked: bool,
    id: Option<UserId>,
    username: Option<String>,
    about_me: Option<String>,
    follows_viewer: Option<bool>,
}

/// The people of `ranked`, in its order, as `pool` has them, leaving out whoever `me`
/// follows there.
async fn suggested_people(
    pool: &PgPool,
    me: UserId,
    ranked: &[i64],
) -> Result<Vec<PickedSuggestion>, AppError> {
    Ok(sqlx::query_as!(
        PickedSuggestion,
        r#"
        SELECT true AS "ranked!", u.id AS "id?: UserId", u.username AS "username?",
               u.about_me AS "about_me?",
               EXISTS (SELECT 1 FROM followers theirs
                       WHERE theirs.follower_id = u.id AND theirs.followed_id = $1) AS "follows_viewer?"
        FROM unnest($2::bigint[]) WITH ORDINALITY AS pick(id, position)
        JOIN users u ON u.id = pick.id
        WHERE NOT EXISTS (SELECT 1 FROM followers mine
                          WHERE mine.follower_id = $1 AND mine.followed_id = pick.id)
        ORDER BY pick.position
        "#,
        me.get(),
        ranked,
    )
    .fetch_all(pool)
    .await?)
}

/// Up to `limit` people from `ranked`, or else from `me`'s kept ranking if it is still fresh
/// (see `suggestions`), leaving out whoever `me` follows by now. Always at least one row.
async fn kept_or_given_suggestions(
    pool: &PgPool,
    me: UserId,
    limit: i64,
    ranked: Option<&[i64]>,
) -> Result<Vec<PickedSuggestion>, AppError> {
    Ok(sqlx::query_as!(
        PickedSuggestion,
        r#"
        WITH ranking AS (
            SELECT COALESCE($3::bigint[], (
                SELECT s.suggested FROM suggestions s JOIN users me ON me.id = s.user_id
                WHERE s.user_id = $1
                  AND s.computed_at > now() - make_interval(secs => $4)
                  AND (s.following_count = me.following_count
                       OR (s.following_count > 0
                           AND s.computed_at > now() - make_interval(secs => $5)))
            )) AS suggested
        )
        SELECT ranking.suggested IS NOT NULL AS "ranked!",
               picked.id AS "id?: UserId", picked.username AS "username?",
               picked.about_me AS "about_me?", picked.follows_viewer AS "follows_viewer?"
        FROM ranking
        LEFT JOIN LATERAL (
            SELECT u.id, u.username, u.about_me, pick.position,
                   EXISTS (SELECT 1 FROM followers theirs
                           WHERE theirs.follower_id = u.id AND theirs.followed_id = $1
                           OFFSET 0) AS follows_viewer
            FROM unnest(ranking.suggested) WITH ORDINALITY AS pick(id, position)
            JOIN users u ON u.id = pick.id
            -- `OFFSET 0` keeps each check a one-row probe of the primary key: without it
            -- PostgreSQL hashed all of the reader's follows (5,000 for the heavy reader, p99
            -- 3.25 ms) and all of their followers; with it the heavy reader's box took p99
            -- 0.22 ms (pgbench).
            WHERE NOT EXISTS (SELECT 1 FROM followers mine
                              WHERE mine.follower_id = $1 AND mine.followed_id = pick.id
                              OFFSET 0)
            ORDER BY pick.position
            LIMIT $2
        ) AS picked ON true
        ORDER BY picked.position
        "#,
        me.get(),
        limit,
        ranked as Option<&[i64]>,
        SUGGESTIONS_FRESH_FOR.as_secs_f64(),
        SUGGESTIONS_KEPT_THROUGH_FOLLOWS_FOR.as_secs_f64(),
    )
    .fetch_all(pool)
    .await?)
}

/// Up to `limit` people `me` may want to follow: those followed by the people `me` follows,
/// whom `me` does not follow yet, ranked by how many of `me`'s followees follow them, then by
/// how recently they were active. The most-followed of the recently active fill whatever places
/// remain: all of them for someone who follows nobody yet.
///
/// The ranking is kept in `suggestions` for `SUGGESTIONS_FRESH_FOR` (see the migration): the
/// home page is shown far more often than the neighbourhood changes. Whoever `me` follows by
/// the time of reading is dropped from it. Once `me` follows more or fewer people it is ranked
/// again, at once for someone who followed nobody when it was made (their first follows should
/// shape the box), otherwise once it is `SUGGESTIONS_KEPT_THROUGH_FOLLOWS_FOR` old: someone
/// following and unfollowing all the time would otherwise pay for a ranking on nearly every
/// home page (the soak of `make bench`, a quarter of it follows, went from 489 to 657
/// requests/s once rankings were kept through follows).
///
/// The ranking lives on the primary (`pool`); with `people_from`, a replica, the people in it
/// are read again there, so the box shows them as the rest of its page does (a name the
/// replica does not have yet would be a link to a page that says nobody has it).
pub async fn suggestions(
    pool: &PgPool,
    people_from: Option<&PgPool>,
    me: UserId,
    limit: i64,
) -> Result<Vec<UserSummary>, AppError> {
    // One statement for the usual case, a ranking still kept: it reads the ranking and the
    // people in it together. Without one, it runs again on the ranking just made.
    let mut rows = kept_or_given_suggestions(pool, me, limit, None).await?;
    if rows.first().is_none_or(|row| !row.ranked) {
        let ranked = rank_suggestions(pool, me).await?;
        rows = kept_or_given_suggestions(pool, me, limit, Some(&ranked)).await?;
    }
    if let Some(replica) = people_from {
        let ranked: Vec<i64> = rows
            .iter()
            .filter_map(|row| row.id)
            .map(UserId::get)
            .collect();
        rows = suggested_people(replica, me, &ranked).await?;
    }
    // The one row of an empty pick has no person.
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let id = row.id?;
            Some(UserSummary {
                id,
                avatar_url: avatar_url(id),
                username: row.username?,
                about_me: row.about_me,
                followed_by_me: Some(false),
                follows_me: row.follows_viewer?,
            })
        })
        .collect())
}

/// Ranks the people `me` may want to follow, best first, and keeps the ranking in
/// `suggestions`.
///
/// To keep it fast for someone who follows thousands, it counts among `me`'s
/// `SUGGESTION_FOLLOWEES` most recent followees, and over the `SUGGESTION_LINKS_EACH` most
/// recent follows of each: a sample of the neighbourhood that favours what is current. On the
/// benchmark's graph, 200 × 50 took 48 ms at p50 for a heavy reader, nearly all of it reading
/// the ~9,000 candidates' rows to rank them; 100 × 5 took 3-4 ms. The popular fallback reads the
/// authors of the latest `RECENT_POSTS_FOR_POPULAR` posts from `posts_newest` alone: an index on
/// `followers_count` would make every follow's counter update a non-HOT update of `users`.
pub async fn rank_suggestions(pool: &PgPool, me: UserId) -> Result<Vec<i64>, AppError> {
    Ok(sqlx::query_scalar!(
        r#"
        WITH my_followees AS (
            SELECT followed_id FROM followers WHERE follower_id = $1
            ORDER BY created_at DESC, followed_id DESC
            LIMIT $3
        ),
        friends_of_friends AS (
            SELECT theirs.followed_id AS id, count(*) AS shared
            FROM my_followees
            CROSS JOIN LATERAL (
                SELECT followed_id FROM followers
                WHERE follower_id = my_followees.followed_id
                ORDER BY created_at DESC, followed_id DESC
                LIMIT $4
            ) AS theirs
            WHERE theirs.followed_id <> $1
            GROUP BY theirs.followed_id
        ),
        recent_authors AS (
            SELECT DISTINCT author_id FROM (
                SELECT author_id FROM posts ORDER BY created_at DESC, id DESC LIMIT $5
            ) AS latest
        ),
        popular AS (
            SELECT u.id, 0::bigint AS shared
            FROM recent_authors JOIN users u ON u.id = recent_authors.author_id
            WHERE u.id <> $1
              -- Before the LIMIT: someone who follows most of the top authors still gets some.
              AND NOT EXISTS (SELECT 1 FROM followers mine
                              WHERE mine.follower_id = $1 AND mine.followed_id = u.id)
            ORDER BY u.followers_count DESC, u.id
            LIMIT $2
        ),
        candidates AS (
            SELECT id, max(shared) AS shared
            FROM (SELECT * FROM friends_of_friends UNION ALL SELECT * FROM popular) AS both_kinds
            WHERE NOT EXISTS (SELECT 1 FROM followers mine
                              WHERE mine.follower_id = $1 AND mine.followed_id = both_kinds.id)
            GROUP BY id
        ),
        ranked AS (
            SELECT c.id,
                   row_number() OVER (
                       ORDER BY c.shared DESC,
                                CASE WHEN c.shared = 0 THEN u.followers_count END DESC NULLS LAST,
                                u.last_seen DESC, u.id
                   ) AS position
            FROM candidates c JOIN users u ON u.id = c.id
        ),
        best AS (
            SELECT coalesce(array_agg(id ORDER BY position), '{}') AS suggested
            FROM ranked WHERE position <= $2
        ),
        stored AS (
            INSERT INTO suggestions (user_id, suggested, following_count, computed_at)
            SELECT $1, best.suggested, me.following_count, now()
            FROM best, users me WHERE me.id = $1
            ON CONFLICT (user_id) DO UPDATE
                SET suggested = EXCLUDED.suggested,
                    following_count = EXCLUDED.following_count,
                    computed_at = EXCLUDED.computed_at
        )
        SELECT suggested AS "suggested!" FROM best
        "#,
        me.get(),
        SUGGESTIONS_KEPT,
        SUGGESTION_FOLLOWEES,
        SUGGESTION_LINKS_EACH,
        RECENT_POSTS_FOR_POPULAR,
    )
    .fetch_one(pool)
    .await?)
}

/// How long a reader's ranking is reused, while they follow as many people as it was made for.
pub const SUGGESTIONS_FRESH_FOR: std::time::Duration = std::time::Duration::from_secs(10 * 60);
/// How long a ranking is kept although `me` has followed or unfollowed people since.
pub const SUGGESTIONS_KEPT_THROUGH_FOLLOWS_FOR: std::time::Duration =
    std::time::Duration::from_secs(60);
/// How many ranked people are kept, so following a few from the box still leaves five.
pub const SUGGESTIONS_KEPT: i64 = 20;
/// How many of the reader's most recent followees suggestions are counted among.
pub const SUGGESTION_FOLLOWEES: i64 = 100;
/// How many of each followee's most recent follows are counted.
pub const SUGGESTION_LINKS_EACH: i64 = 5;
/// How many of the latest posts make someone "recently active" for the popular fallback.
pub const RECENT_POSTS_FOR_POPULAR: i64 = 200;
