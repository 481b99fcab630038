//! The Flask tutorial's feed query, kept only as the baseline the benchmark and the tests
//! measure `posts::followed_posts` against. Compiled with the `bench` feature, never into the
//! server that serves people.

use crate::db::posts::{PostRow, present};
use crate::error::AppError;
use crate::model::{PageRequest, PostView, UserId};
use sqlx::PgPool;

/// The Flask tutorial's `followed_posts()`: join followers, filter on follower_id, UNION the
/// user's own posts, order by time, then LIMIT/OFFSET for page `page` (1-based). Kept only as
/// the baseline the benchmark measures `followed_posts` against.
pub async fn followed_posts(
    pool: &PgPool,
    me: UserId,
    page: i64,
    page_size: i64,
) -> Result<Vec<PostView>, AppError> {
    let rows = sqlx::query_as!(
        PostRow,
        r#"
        SELECT p.id AS "id!", u.username AS author, u.id AS "author_id: UserId", p.body AS "body!", p.created_at AS "created_at!"
        FROM (
            SELECT posts.* FROM posts
            JOIN followers ON followers.followed_id = posts.author_id
            WHERE followers.follower_id = $1
            UNION
            SELECT posts.* FROM posts WHERE posts.author_id = $1
        ) AS p
        JOIN users u ON u.id = p.author_id
        ORDER BY p.created_at DESC
        LIMIT $2 OFFSET $3
        "#,
        me.get(),
        page_size,
        (page.max(1) - 1) * page_size,
    )
    .fetch_all(pool)
    .await?;
    Ok(present(rows, PageRequest::First, page_size).items)
}
