//! The live home feed through the real router, with the real listener on the test's database:
//! what reaches a stream, what never does, and when it ends.

use axum::body::Body;
use axum::http::StatusCode;
use http_body_util::BodyExt;
use sqlx::PgPool;
use std::time::Duration;

use crate::common::*;

/// The next event of a stream (name, data), skipping keep-alive comments; `None` once the
/// stream has ended. A stream that stays silent for 20 s fails the test instead of hanging it.
async fn next_event(body: &mut Body) -> Option<(String, String)> {
    let mut text = String::new();
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(20), body.frame())
            .await
            .expect("an event within 20 s")?
            .expect("the stream does not fail");
        if let Ok(data) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
        }
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|line| line.strip_prefix(&format!("{name}:")))
                    .map(|value| value.trim().to_owned())
            };
            if let (Some(event), Some(data)) = (field("event"), field("data")) {
                return Some((event, data));
            }
        }
    }
}

/// What a stream says of a post: its id and its author's name.
async fn announced(pool: &PgPool, body: &str) -> Option<(String, String)> {
    let (id, author): (i64, String) = sqlx::query_as(
        "SELECT p.id, u.username FROM posts p JOIN users u ON u.id = p.author_id WHERE p.body = $1",
    )
    .bind(body)
    .fetch_one(pool)
    .await
    .unwrap();
    Some(("post".into(), format!("{id} {author}")))
}

#[sqlx::test(migrations = false)]
async fn a_stream_carries_only_posts_of_people_followed_now_and_ends_at_sign_out(pool: PgPool) {
    let app = migrated_app(&pool).await;
    let john = Visitor::registered(&app, "john").await;
    let susan = Visitor::registered(&app, "susan").await;
    let mary = Visitor::registered(&app, "mary").await;
    let david = Visitor::registered(&app, "david").await;
    john.follow("susan").await;
    john.follow("mary").await;

    let response = john.live_feed(None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut stream = response.into_body();

    // Someone john does not follow posts first; the next event must still be susan's.
    david.post("not+for+john").await;
    susan.post("susan+speaks").await;
    assert_eq!(
        next_event(&mut stream).await,
        announced(&pool, "susan speaks").await
    );
    // john's own post is on his page already: not news to him.
    john.post("johns+own").await;
    // After an unfollow, susan's posts stop at once.
    john.unfollow("susan").await;
    susan.post("susan+again").await;
    mary.post("mary+speaks").await;
    assert_eq!(
        next_event(&mut stream).await,
        announced(&pool, "mary speaks").await
    );
    john.logout().await;
    assert_eq!(
        next_event(&mut stream).await,
        None,
        "the stream ends at sign-out"
    );
    let after = john.live_feed(None).await;
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrations = false)]
async fn a_reconnecting_stream_is_told_what_it_missed(pool: PgPool) {
    let app = migrated_app(&pool).await;
    let john = Visitor::registered(&app, "john").await;
    let susan = Visitor::registered(&app, "susan").await;
    john.follow("susan").await;
    susan.post("before+the+cut").await;
    let resume_from: String = sqlx::query_scalar(
        "SELECT ((extract(epoch FROM created_at) * 1000000)::bigint)::text || '_' || id FROM posts",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    // While john was away:
    susan.post("missed+one").await;
    susan.post("missed+two").await;
    let mut stream = john.live_feed(Some(&resume_from)).await.into_body();
    assert_eq!(
        next_event(&mut stream).await,
        announced(&pool, "missed one").await
    );
    assert_eq!(
        next_event(&mut stream).await,
        announced(&pool, "missed two").await
    );
}

#[sqlx::test(migrations = false)]
async fn streams_are_refused_clearly(pool: PgPool) {
    let app = migrated_app(&pool).await;
    let signed_out = Visitor::signed_out(&app).live_feed(None).await;
    assert_eq!(signed_out.status(), StatusCode::UNAUTHORIZED);

    let john = Visitor::registered(&app, "john").await;
    let garbage = john.live_feed(Some("yesterday")).await;
    assert_eq!(garbage.status(), StatusCode::BAD_REQUEST);

    // Five tabs are fine, on any processes; the sixth is refused while they stay open, on
    // whichever process it asks.
    let second = crate::common::app(&pool);
    let mut open = Vec::new();
    for tab in 0..5 {
        let response = match tab % 2 {
            0 => john.live_feed(None).await,
            _ => john.on(&second).live_feed(None).await,
        };
        assert_eq!(response.status(), StatusCode::OK);
        open.push(response);
    }
    assert_eq!(
        john.on(&second).live_feed(None).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let sixth = john.live_feed(None).await;
    assert_eq!(sixth.status(), StatusCode::TOO_MANY_REQUESTS);
    let message = sixth.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(
        String::from_utf8_lossy(&message),
        "You have too many live feeds open; close a tab or two."
    );
    drop(open);
    assert_eq!(john.live_feed(None).await.status(), StatusCode::OK);
}

/// Cuts the live feed's listening connection, as a PostgreSQL restart or a network cut would.
async fn cut_the_listener(pool: &PgPool) {
    let started = std::time::Instant::now();
    loop {
        let cut: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND query LIKE 'LISTEN%'
               AND pid <> pg_backend_pid()) AS terminated",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if cut > 0 {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no listener to cut"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[sqlx::test(migrations = false)]
async fn a_stream_whose_sign_out_was_never_heard_ends_once_the_listener_is_back(pool: PgPool) {
    let app = migrated_app(&pool).await;
    let john = Visitor::registered(&app, "john").await;
    let susan = Visitor::registered(&app, "susan").await;
    john.follow("susan").await;
    let mut stream = john.live_feed(None).await.into_body();
    susan.post("while+signed+in").await;
    assert_eq!(
        next_event(&mut stream).await,
        announced(&pool, "while signed in").await
    );
    // A sign-out through a process whose announcement this one never heard: the record goes,
    // and the listener is cut before anything is said.
    sqlx::query("DELETE FROM sessions")
        .execute(&pool)
        .await
        .unwrap();
    cut_the_listener(&pool).await;
    susan.post("after+the+sign+out").await;
    assert_eq!(
        next_event(&mut stream).await,
        None,
        "the stream checks its session before catching up, and ends"
    );
}
