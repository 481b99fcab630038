//! The database's own code: its functions, triggers and views, in schema `r`, written once in
//! `app/src/db/logic/*.sql` as they are now. Migrations (`migrations/`) hold the tables and
//! their history; to learn what a follow or a post does in the database, read these files.
//!
//! The schema is installed as one more migration, the last one, whose text is these files. A
//! changed text (a new build) drops schema `r` with everything in it and creates it again,
//! in the same transaction as any new migrations (`db::migrate`), so no moment exists without
//! the triggers, and a process still running older code sees the old schema or the new one.
//! Modelled on Lemmy's `replaceable_schema`.

use crate::db::posts::TIMELINE_FROM;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AssertSqlSafe, SqlSafeStr};
use std::borrow::Cow;
use std::sync::LazyLock;

/// The files, in the order they are run. Each stands alone: a PL/pgSQL body refers to other
/// functions by name only when it runs.
const FILES: [(&str, &str); 5] = [
    ("limits.sql", include_str!("logic/limits.sql")),
    ("timelines.sql", include_str!("logic/timelines.sql")),
    ("follows.sql", include_str!("logic/follows.sql")),
    ("posts.sql", include_str!("logic/posts.sql")),
    ("profiles.sql", include_str!("logic/profiles.sql")),
];

/// The version under which the schema is recorded in `_sqlx_migrations`: after every dated
/// migration, so it runs once the tables it uses exist.
pub const VERSION: i64 = i64::MAX;

/// The whole text that makes schema `r`.
fn schema_text() -> String {
    let mut text = String::from(
        "DROP SCHEMA IF EXISTS r CASCADE;\nCREATE SCHEMA r;\n\
         -- The follow count from which a reader has a timeline, as the feed reads it.\n",
    );
    text.push_str(&format!(
        "CREATE FUNCTION r.timeline_from() RETURNS bigint IMMUTABLE LANGUAGE sql \
         RETURN {TIMELINE_FROM};\n"
    ));
    for (name, sql) in FILES {
        text.push_str(&format!("\n-- app/src/db/logic/{name}\n{sql}"));
    }
    text
}

/// Every migration of Microblog, then schema `r`: what `db::migrate` runs, and what each test
/// database is made with (`#[sqlx::test(migrator = "app::db::MIGRATOR")]`).
pub static MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| {
    let mut migrations: Vec<Migration> = sqlx::migrate!("../migrations").iter().cloned().collect();
    migrations.push(Migration::new(
        VERSION,
        Cow::Borrowed("database logic (app/src/db/logic)"),
        MigrationType::Simple,
        AssertSqlSafe(schema_text()).into_sql_str(),
        false,
    ));
    Migrator::with_migrations(migrations)
});

/// The checksum of the schema this build would install.
pub(crate) fn checksum() -> &'static [u8] {
    MIGRATOR
        .iter()
        .find(|migration| migration.version == VERSION)
        .map(|migration| &*migration.checksum)
        .unwrap_or_default()
}
