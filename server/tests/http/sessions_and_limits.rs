//! What an attacker tries against several server processes on one database: answers that
//! arrive after a sign-out, guesses spread over processes, follow churn, a renamed account.
//! Two routers on one database are two server processes.

use axum::http::StatusCode;
use sqlx::PgPool;
use std::time::{Duration, Instant};

use crate::common::*;
use app::db::follows::FollowLimits;
use app::throttle::ThrottleSettings;

async fn user_id(pool: &PgPool, name: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(name)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// A transaction holding `name`'s row, as one of the app's own batches or timeline starts
/// does, so that a post by them waits until it ends.
async fn hold_row_of(pool: &PgPool, name: &str) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut holder = pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM users WHERE username = $1 FOR UPDATE")
        .bind(name)
        .execute(&mut *holder)
        .await
        .unwrap();
    holder
}

/// Waits until a statement waits for a lock; the minute only turns a hang into a failure.
async fn until_a_statement_waits(pool: &PgPool) {
    let started = Instant::now();
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if waiting > 0 {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no statement ever waited"
        );
        tokio::task::yield_now().await;
    }
}

/// `visitor` posts through `process` while their row is held, and `meanwhile` runs; then the
/// row is let go and the post answers.
async fn post_held_while(
    pool: &PgPool,
    visitor: &Visitor,
    name: &str,
    meanwhile: impl AsyncFnOnce(),
) -> StatusCode {
    let holder = hold_row_of(pool, name).await;
    let posting = tokio::spawn({
        let visitor = visitor.on(visitor.router());
        async move { visitor.post("a+late+answer").await.status }
    });
    until_a_statement_waits(pool).await;
    meanwhile().await;
    holder.rollback().await.unwrap();
    posting.await.unwrap()
}

#[sqlx::test(migrations = false)]
async fn an_answer_that_arrives_after_a_sign_out_does_not_sign_the_session_in_again(pool: PgPool) {
    // The first process records each change's log position in the session (as it does with
    // replicas), so the late post writes the session it loaded before the sign-out.
    let first = app_with(
        &pool,
        Process {
            remembers_changes: true,
            ..Process::default()
        },
    );
    app::db::migrate(&pool).await.unwrap();
    let second = app(&pool);
    let john = Visitor::registered(&first, "john").await;

    let status = post_held_while(&pool, &john, "john", async || {
        let goodbye = john.on(&second).logout().await;
        assert_eq!(goodbye.status, StatusCode::OK, "{}", goodbye.body);
        assert_eq!(john.signed_in_as().await, None, "signed out at once");
    })
    .await;
    assert!(
        status == StatusCode::OK || status == StatusCode::UNAUTHORIZED,
        "{status}"
    );
    assert_eq!(john.signed_in_as().await, None, "still signed out");
    assert_eq!(john.on(&second).signed_in_as().await, None);
    assert_eq!(john.page("/").await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        john.post("posting+again").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(sessions(&pool).await, 0, "no record came back");
}

#[sqlx::test(migrations = false)]
async fn the_daily_renewal_of_a_session_loaded_before_its_sign_out_writes_nothing(pool: PgPool) {
    let first = migrated_app(&pool).await;
    let second = app(&pool);
    let john = Visitor::registered(&first, "john").await;
    // Renewed long ago: the next request that loads it writes it again.
    sqlx::query("UPDATE sessions SET data = jsonb_set(data, '{renewed_on_day}', '0')")
        .execute(&pool)
        .await
        .unwrap();
    post_held_while(&pool, &john, "john", async || {
        john.on(&second).logout().await;
    })
    .await;
    assert_eq!(john.signed_in_as().await, None);
    assert_eq!(sessions(&pool).await, 0);
}

#[sqlx::test(migrations = false)]
async fn a_session_replaced_by_a_sign_in_as_someone_else_is_not_written_back(pool: PgPool) {
    let first = app_with(
        &pool,
        Process {
            remembers_changes: true,
            ..Process::default()
        },
    );
    app::db::migrate(&pool).await.unwrap();
    let second = app(&pool);
    Visitor::registered(&first, "mary").await;
    let john = Visitor::registered(&first, "john").await;
    let mut as_mary = john.on(&second);
    post_held_while(&pool, &john, "john", async || {
        let reply = as_mary.login("mary", PASSWORD).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    })
    .await;
    assert_eq!(as_mary.signed_in_as().await.as_deref(), Some("mary"));
    assert_eq!(
        john.signed_in_as().await,
        None,
        "john's old cookie was replaced at the sign-in and stays worthless"
    );
}

#[sqlx::test(migrations = false)]
async fn the_log_position_a_session_keeps_only_moves_forward(pool: PgPool) {
    use app::db::sessions::{LAST_CHANGE_KEY, PostgresSessions, USER_ID_KEY};
    use tower_sessions::SessionStore;
    use tower_sessions::session::{Id, Record};
    app::db::migrate(&pool).await.unwrap();
    let john = {
        let router = app(&pool);
        Visitor::registered(&router, "john").await;
        user_id(&pool, "john").await
    };
    let store = PostgresSessions::new(pool.clone());
    let record = |position: i64| Record {
        id: Id(42),
        data: [
            (USER_ID_KEY.to_owned(), serde_json::json!(john)),
            (LAST_CHANGE_KEY.to_owned(), serde_json::json!(position)),
        ]
        .into_iter()
        .collect(),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::days(1),
    };
    let kept = || async {
        let loaded = store.load(&Id(42)).await.unwrap().expect("the record");
        loaded.data[LAST_CHANGE_KEY].as_i64().unwrap()
    };
    store.create(&mut record(100)).await.unwrap();
    // Two requests that loaded it at once: the one with the older position saves last.
    store.save(&record(300)).await.unwrap();
    store.save(&record(200)).await.unwrap();
    assert_eq!(kept().await, 300);
    // "Unknown" (read from the primary) takes the place of a known one, and gives way to the
    // next known one.
    store.save(&record(i64::MAX)).await.unwrap();
    assert_eq!(kept().await, i64::MAX);
    store.save(&record(250)).await.unwrap();
    assert_eq!(kept().await, 250);
    // Gone is gone: a save after the delete writes nothing.
    store.delete(&Id(42)).await.unwrap();
    store.save(&record(400)).await.unwrap();
    assert!(store.load(&Id(42)).await.unwrap().is_none());
}

#[sqlx::test(migrations = false)]
async fn wrong_passwords_spread_over_two_processes_meet_one_limit(pool: PgPool) {
    let production = ThrottleSettings {
        per_address_per_minute: 100_000,
        ..ThrottleSettings::default()
    };
    let first = app_with_throttle(&pool, production);
    app::db::migrate(&pool).await.unwrap();
    let second = app_with_throttle(&pool, production);
    Visitor::registered(&app(&pool), "susan").await;
    let mut statuses = Vec::new();
    for attempt in 0..14 {
        let process = if attempt % 2 == 0 { &first } else { &second };
        let reply = Visitor::signed_out(process)
            .login("susan", "not her password")
            .await;
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            let wait: u64 = reply.headers["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=120).contains(&wait), "{wait}");
            assert!(
                reply.body.contains("Too many sign-in attempts"),
                "{}",
                reply.body
            );
        }
        statuses.push(reply.status.as_u16());
    }
    assert_eq!(
        statuses,
        [[401; 10].as_slice(), &[429; 4]].concat(),
        "ten guesses for the site, not ten per process"
    );
    // Even the right password waits: the limit is on the account, before any check.
    let mut susan = Visitor::signed_out(&first);
    assert_eq!(
        susan.login("susan", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[sqlx::test(migrations = false)]
async fn sign_ins_from_one_address_meet_one_limit_on_every_process(pool: PgPool) {
    let strict = ThrottleSettings {
        per_address_per_minute: 3,
        per_account_burst: 100,
        account_refill_seconds: 1,
    };
    let first = app_with_throttle(&pool, strict);
    app::db::migrate(&pool).await.unwrap();
    let second = app_with_throttle(&pool, strict);
    let mut statuses = Vec::new();
    for (attempt, name) in ["ann", "bob", "cid", "dan"].into_iter().enumerate() {
        let process = if attempt % 2 == 0 { &first } else { &second };
        statuses.push(
            Visitor::signed_out(process)
                .login(name, "guess")
                .await
                .status,
        );
    }
    assert_eq!(
        statuses,
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
}

/// Two processes limiting follow changes to `limits`, and john and the people he follows.
async fn two_processes_limiting(
    pool: &PgPool,
    limits: FollowLimits,
) -> (axum::Router, axum::Router, Visitor) {
    let process = || Process {
        follow_limits: limits,
        ..Process::default()
    };
    let first = app_with(pool, process());
    app::db::migrate(pool).await.unwrap();
    let second = app_with(pool, process());
    for name in ["susan", "mary", "david"] {
        Visitor::registered(&first, name).await;
    }
    let john = Visitor::registered(&first, "john").await;
    (first, second, john)
}

#[sqlx::test(migrations = false)]
async fn follow_churn_is_limited_for_the_site_and_changes_nothing_past_it(pool: PgPool) {
    let limits = FollowLimits {
        changes_burst: Some(6),
        per_change: Duration::from_secs(3600),
        following_cap: None,
    };
    let (first, second, john) = two_processes_limiting(&pool, limits).await;
    for round in 0..3 {
        let here = john.on(if round % 2 == 0 { &first } else { &second });
        assert_eq!(here.follow("susan").await.status, StatusCode::OK);
        assert_eq!(here.unfollow("susan").await.status, StatusCode::OK);
    }
    let refused = john.on(&second).follow("susan").await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.body
    );
    let wait: u64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3000..=3600).contains(&wait), "{wait}");
    assert!(
        refused
            .body
            .contains("following and unfollowing too quickly"),
        "{}",
        refused.body
    );
    assert_eq!(links(&pool).await, 0, "the refused follow changed nothing");
    // Without JavaScript the form comes back with the same sentence.
    let plain = send(
        &first,
        plain_form_post(
            "/api/follow",
            "/user/susan",
            john.cookie.as_deref(),
            "username=susan",
        ),
    )
    .await;
    assert!(
        plain.status == StatusCode::SEE_OTHER || plain.status == StatusCode::TOO_MANY_REQUESTS,
        "{}",
        plain.status
    );
    assert_eq!(links(&pool).await, 0);
    // Someone else is not held back by john's limit.
    let mut mary = Visitor::signed_out(&first);
    mary.login("mary", PASSWORD).await;
    assert_eq!(mary.follow("susan").await.status, StatusCode::OK);
}

#[sqlx::test(migrations = false)]
async fn nobody_follows_more_than_the_cap_or_eleven_tenths_of_their_followers(pool: PgPool) {
    let limits = FollowLimits {
        changes_burst: None,
        per_change: Duration::ZERO,
        following_cap: Some(2),
    };
    let (first, second, john) = two_processes_limiting(&pool, limits).await;
    assert_eq!(john.follow("susan").await.status, StatusCode::OK);
    assert_eq!(john.on(&second).follow("mary").await.status, StatusCode::OK);
    let refused = john.follow("david").await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(
        refused
            .body
            .contains("You cannot follow more than 2 people. Unfollow someone first."),
        "{}",
        refused.body
    );
    assert_eq!(links(&pool).await, 2);
    // Following someone already followed, and unfollowing, are never refused.
    assert_eq!(john.follow("susan").await.status, StatusCode::OK);
    assert_eq!(john.unfollow("susan").await.status, StatusCode::OK);
    assert_eq!(john.follow("susan").await.status, StatusCode::OK);
    // With followers, the cap grows with them: 1.1 × 3 is 4 (rounded up).
    for name in ["susan", "mary", "david"] {
        let mut follower = Visitor::signed_out(&first);
        follower.login(name, PASSWORD).await;
        follower.follow("john").await;
    }
    assert_eq!(john.follow("david").await.status, StatusCode::OK);
    Visitor::registered(&first, "eve").await;
    Visitor::registered(&first, "fay").await;
    assert_eq!(john.follow("eve").await.status, StatusCode::OK);
    assert_eq!(
        john.follow("fay").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[sqlx::test(migrations = false)]
async fn a_button_follows_the_person_it_was_drawn_for_even_after_their_name_moved_on(pool: PgPool) {
    let router = migrated_app(&pool).await;
    let susan = Visitor::registered(&router, "susan").await;
    let john = Visitor::registered(&router, "john").await;
    let susans_id = user_id(&pool, "susan").await;
    // john opens susan's profile: its button names her id.
    let profile = john.page("/user/susan").await;
    assert!(
        profile
            .body
            .contains(&format!("name=\"user_id\" value=\"{susans_id}\"")),
        "{}",
        profile.body
    );
    // Then susan renames herself and mary takes the name.
    susan.edit_profile("susanna", "").await;
    let reply = call(
        &router,
        "/api/register",
        "username=susan&email=mary%40example.com&password=correct+horse+battery&password2=correct+horse+battery",
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let reply = john
        .call(
            "/api/follow",
            &format!("username=susan&user_id={susans_id}"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let state: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(
        state["username"], "susanna",
        "the answer names who was followed"
    );
    let followed: Vec<String> = sqlx::query_scalar(
        "SELECT u.username FROM followers f JOIN users u ON u.id = f.followed_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(followed, ["susanna"]);
    // Without JavaScript, the message after the redirect names her as she is now.
    let plain = send(
        &router,
        plain_form_post(
            "/api/unfollow",
            "/user/susan",
            john.cookie.as_deref(),
            &format!("username=susan&user_id={susans_id}"),
        ),
    )
    .await;
    assert_eq!(plain.status, StatusCode::SEE_OTHER);
    assert_eq!(links(&pool).await, 0);
    // An id nobody has is a 404 that repeats the name the button showed.
    let gone = john
        .call("/api/follow", "username=susan&user_id=999999")
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.body);
    assert!(gone.body.contains("User susan not found."), "{}", gone.body);
    assert_eq!(links(&pool).await, 0);
}
