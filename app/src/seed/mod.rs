//! Demo data for `make run`, loaded with set-based SQL (server only). The benchmark's data set
//! is in `scale`, compiled only with the `bench` feature.

#[cfg(feature = "bench")]
pub mod scale;

use crate::error::AppError;
use sqlx::PgPool;

/// The password of every seeded account, so people can sign in as john, susan, mary or david.
pub const DEMO_PASSWORD: &str = "microblog";

/// Fills an empty database with a few dozen users, posts and follows: the canonical scenario
/// of SPEC §2 (john, susan, mary, david) plus people to explore. Returns false, changing
/// nothing, when there are users already.
pub async fn demo(pool: &PgPool) -> Result<bool, AppError> {
    let hash = demo_password_hash().await?;
    let mut tx = pool.begin().await?;
    // Serialises concurrent seeders (two `make run`s) so the emptiness check holds.
    sqlx::query!("LOCK TABLE users IN EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await?;
    let has_users: bool = sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM users) AS "any!""#)
        .fetch_one(&mut *tx)
        .await?;
    if has_users {
        return Ok(false);
    }
    sqlx::query!(
        r#"
        INSERT INTO users (username, email, password_hash, about_me)
        SELECT name, name || '@example.com', $1, about
        FROM unnest($2::text[], $3::text[]) AS t(name, about)
        "#,
        hash,
        &column(DEMO_USERS, |(name, _)| *name),
        &column(DEMO_USERS, |(_, about)| *about),
    )
    .execute(&mut *tx)
    .await?;
    // The canonical posts keep their order: susan (t+4s), mary (t+3s), david (t+2s), john (t+1s).
    sqlx::query!(
        r#"
        INSERT INTO posts (author_id, body, created_at)
        SELECT u.id, p.body, now() - interval '1 hour' + p.offset_seconds * interval '1 second'
        FROM unnest($1::text[], $2::text[], $3::int[]) AS p(author, body, offset_seconds)
        JOIN users u ON u.username = p.author
        "#,
        &column(DEMO_POSTS, |(a, _, _)| *a),
        &column(DEMO_POSTS, |(_, b, _)| *b),
        &DEMO_POSTS.iter().map(|(_, _, s)| *s).collect::<Vec<_>>(),
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        r#"
        INSERT INTO followers (follower_id, followed_id)
        SELECT a.id, b.id
        FROM unnest($1::text[], $2::text[]) AS f(follower, followed)
        JOIN users a ON a.username = f.follower
        JOIN users b ON b.username = f.followed
        "#,
        &column(DEMO_FOLLOWS, |(a, _)| *a),
        &column(DEMO_FOLLOWS, |(_, b)| *b),
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

const DEMO_USERS: &[(&str, &str)] = &[
    ("john", "Builds things; mostly bicycles."),
    ("susan", "Gardener, reader, occasional poet."),
    ("mary", "Coffee first."),
    ("david", "Amateur astronomer."),
    ("ana", "Trains for marathons, slowly."),
    ("bruno", "Bakes bread on weekends."),
    ("chen", "Writes Rust for a living."),
    ("dara", "Film photography."),
    ("elif", "Learning the cello."),
    ("femi", "Jazz on vinyl."),
    ("greta", "Hikes with a dog named Pixel."),
    ("hiro", "Street food hunter."),
];

const DEMO_POSTS: &[(&str, &str, i32)] = &[
    ("john", "post from john", 1),
    ("david", "post from david", 2),
    ("mary", "post from mary", 3),
    ("susan", "post from susan", 4),
    (
        "ana",
        "Ran 10 km before breakfast. Breakfast was earned.",
        60,
    ),
    ("bruno", "The sourdough starter survived the holidays.", 120),
    ("chen", "Borrow checker 1, me 0. Rematch tomorrow.", 180),
    (
        "dara",
        "Developed a roll from last summer. Memories in grain.",
        240,
    ),
    ("elif", "Scales, scales, scales.", 300),
    ("femi", "Found a first pressing at the flea market!", 360),
    ("greta", "Pixel found a stick twice his size.", 420),
    ("hiro", "Best ramen in town is behind the station.", 480),
    ("susan", "Tomatoes are finally red.", 540),
    ("john", "New chain, new me.", 600),
    ("mary", "Is it too late for another espresso?", 660),
    ("david", "Jupiter's moons tonight, clear skies.", 720),
];

const DEMO_FOLLOWS: &[(&str, &str)] = &[
    ("john", "susan"),
    ("john", "david"),
    ("susan", "mary"),
    ("mary", "david"),
    ("ana", "bruno"),
    ("ana", "chen"),
    ("bruno", "ana"),
    ("chen", "john"),
    ("dara", "elif"),
    ("elif", "femi"),
    ("femi", "greta"),
    ("greta", "hiro"),
    ("hiro", "ana"),
];

/// Every seeded account shares one hash: Argon2 is deliberately slow, once is enough.
async fn demo_password_hash() -> Result<String, AppError> {
    let password = crate::domain::Password::parse(DEMO_PASSWORD).map_err(AppError::BadRequest)?;
    crate::auth::hash_password(password).await
}

/// One column of a constant table, as the owned strings a `text[]` parameter takes.
fn column<Row>(rows: &[Row], pick: impl Fn(&Row) -> &str) -> Vec<String> {
    rows.iter().map(|row| pick(row).to_owned()).collect()
}
