//! The real router on a fresh database per test, driven without a socket: accounts, sessions,
//! forgery protection and error statuses (SPEC §5).

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use sqlx::PgPool;

use crate::common::*;

#[sqlx::test(migrations = false)]
async fn a_sign_in_works_on_a_second_server_sharing_the_database(pool: PgPool) {
    let first = migrated_app(&pool).await;
    let second = app(&pool);
    Visitor::registered(&first, "john").await;

    let mut john = Visitor::signed_out(&first);
    let reply = john.login("john", PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let set_cookie = reply
        .set_cookie_header("microblog_session")
        .expect("a session cookie");
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");

    assert_eq!(
        john.on(&second).signed_in_as().await.as_deref(),
        Some("john")
    );
}

#[sqlx::test(migrations = false)]
async fn wrong_passwords_and_unknown_users_get_the_same_401(pool: PgPool) {
    let router = migrated_app(&pool).await;
    Visitor::registered(&router, "john").await;
    for name in ["john", "ghost"] {
        let reply = Visitor::signed_out(&router)
            .login(name, "wrong password")
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{name}");
        assert!(
            reply.body.contains("Invalid username or password."),
            "{}",
            reply.body
        );
        assert!(
            reply.session_cookie().is_none(),
            "a failed sign-in creates no session"
        );
    }
}

#[sqlx::test(migrations = false)]
async fn the_session_id_changes_at_sign_in(pool: PgPool) {
    let router = migrated_app(&pool).await;
    let mut john = Visitor::registered(&router, "john").await;
    let at_registration = john.on(&router);
    john.login("john", PASSWORD).await;
    assert_ne!(john.cookie, at_registration.cookie);
    assert_eq!(
        at_registration.signed_in_as().await,
        None,
        "the old id is void"
    );
    assert_eq!(john.signed_in_as().await.as_deref(), Some("john"));
}

#[sqlx::test(migrations = false)]
async fn signing_out_makes_the_old_cookie_useless(pool: PgPool) {
    let router = migrated_app(&pool).await;
    let john = Visitor::registered(&router, "john").await;
    Visitor::registered(&router, "susan").await;
    let reply = john.logout().await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        reply.body, "\"You have signed out.\"",
        "what the page shows"
    );

    assert_eq!(john.signed_in_as().await, None);
    assert_eq!(john.follow("susan").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(links(&pool).await, 0);
}

/// A follow whose session this process has already seen signed in does not load it again: the
/// statement making the change checks it. Signed out through another process, or expired, the
/// session signs in nobody at once, and the follow changes nothing.
#[sqlx::test(migrations = false)]
async fn a_follow_on_a_session_that_ended_elsewhere_is_refused_and_changes_nothing(pool: PgPool) {
    let seen = std::sync::Arc::new(app::auth::SignedInSessions::default());
    let router = app_with(
        &pool,
        Process {
            signed_in_sessions: seen.clone(),
            ..Process::default()
        },
    );
    app::db::migrate(&pool).await.unwrap();
    let john = Visitor::registered(&router, "john").await;
    let mary = Visitor::registered(&router, "mary").await;
    Visitor::registered(&router, "susan").await;
    // Each session seen signed in by a follow, which the next follow goes by.
    for visitor in [&john, &mary] {
        assert_eq!(visitor.follow("susan").await.status, StatusCode::OK);
        assert_eq!(visitor.unfollow("susan").await.status, StatusCode::OK);
    }

    let johns_cookie = john.cookie.as_deref().unwrap();
    let johns_session = johns_cookie.strip_prefix("microblog_session=").unwrap();
    let johns_claim = || {
        let id = johns_session.parse().unwrap();
        let store = std::sync::Arc::new(tower_sessions::MemoryStore::default());
        seen.known_claim(&tower_sessions::Session::new(Some(id), store, None))
    };
    assert!(johns_claim().is_some(), "his follows go by the claim");

    // Made-up cookies while john's session lives and this process knows its claim: a
    // well-formed id nobody was given, one that is not an id, and john's own with its first
    // character changed. None may act as anyone.
    let first = if johns_session.starts_with('A') {
        "B"
    } else {
        "A"
    };
    let altered = format!("microblog_session={first}{}", &johns_session[1..]);
    for cookie in [
        "microblog_session=AAAAAAAAAAAAAAAAAAAAAA",
        "microblog_session=%00%2F..%2F",
        altered.as_str(),
    ] {
        let reply = call(&router, "/api/follow", "username=susan", Some(cookie)).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{cookie}: {}",
            reply.body
        );
    }
    assert_eq!(links(&pool).await, 0);
    // John's own cookie still acts as him, so it was a live session they were made from.
    assert_eq!(john.follow("susan").await.status, StatusCode::OK);
    assert_eq!(john.unfollow("susan").await.status, StatusCode::OK);

    // What another process's sign-out does to john's session (this test's processes would
    // share what they have seen), and mary's session running out.
    sqlx::query("DELETE FROM sessions WHERE id = $1")
        .bind(johns_session)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE sessions SET expires_at = now() - interval '1 second'")
        .execute(&pool)
        .await
        .unwrap();

    // Twice: refused by the statement on the claim, then (the claim forgotten) by the load.
    for visitor in [&john, &mary, &john, &mary] {
        let reply = visitor.follow("susan").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
        assert!(reply.body.contains("Please sign in"), "{}", reply.body);
        assert!(johns_claim().is_none(), "a refused claim is forgotten");
    }
    assert_eq!(links(&pool).await, 0);
}

#[sqlx::test(migrations = false)]
async fn a_follow_posted_from_another_site_is_refused_and_changes_nothing(pool: PgPool) {
    let router = migrated_app(&pool).await;
    let cookie = register(&router, "john").await;
    register(&router, "susan").await;
    for (name, value) in [
        ("origin", "http://evil.example"),
        ("referer", "http://evil.example/page"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let mut request = Request::post("/api/follow")
            .header(header::HOST, "127.0.0.1:3000")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, &cookie)
            .header(name, value);
        if name == "sec-fetch-site" {
            request = request.header(header::ORIGIN, SITE);
        }
        let reply = send(&router, request.body(Body::from("username=susan")).unwrap()).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{name}: {value}");
        assert!(reply.body.contains("another website"), "{}", reply.body);
    }
    assert_eq!(links(&pool).await, 0);
}

#[sqlx::test(migrations = false)]
async fn following_without_a_session_is_401_and_changes_nothing(pool: PgPool) {
    let router = migrated_app(&pool).await;
    Visitor::registered(&router, "susan").await;
    let reply = Visitor::signed_out(&router).follow("susan").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.body.contains("Please sign in"), "{}", reply.body);
    assert_eq!(links(&pool).await, 0);
}

#[sqlx::test(migrations = false)]
async fn follow_answers_with_the_new_state_and_the_spec_errors(pool: PgPool) {
    let router = migrated_app(&pool).await;
    let john = Visitor::registered(&router, "john").await;
    Visitor::registered(&router, "susan").await;

    let reply = john.follow("susan").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let state: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(state["following"], true);
    assert_eq!(state["followers_count"], 1);

    let reply = john.follow("ghost").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(
        reply.body.contains("User ghost not found."),
        "{}",
        reply.body
    );

    let reply = john.follow("john").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.body.contains("You cannot follow yourself!"),
        "{}",
        reply.body
    );

    let reply = call(&router, "/api/follow", "user=susan", john.cookie.as_deref()).await;
    assert_eq!(
        reply.status,
        StatusCode::BAD_REQUEST,
        "missing field: {}",
        reply.body
    );

    let reply = john.unfollow("susan").await;
    let state: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(state["following"], false);
    assert_eq!(state["followers_count"], 0);
    john.follow("susan").await;
    assert_eq!(links(&pool).await, 1);
}

#[sqlx::test(migrations = false)]
async fn a_plain_form_post_is_answered_with_303_back_to_its_page(pool: PgPool) {
    let router = migrated_app(&pool).await;
    let cookie = register(&router, "john").await;
    register(&router, "susan").await;
    let request = plain_form_post(
        "/api/follow",
        "/user/susan",
        Some(&cookie),
        "username=susan",
    );
    let reply = send(&router, request).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.headers.get(header::LOCATION).unwrap(), "/user/susan");
    assert_eq!(links(&pool).await, 1);
}

#[sqlx::test(migrations = false)]
async fn state_changing_functions_cannot_be_reached_by_get(pool: PgPool) {
    let router = migrated_app(&pool).await;
    let cookie = register(&router, "john").await;
    register(&router, "susan").await;
    let request = Request::get("/api/follow?username=susan")
        .header(header::COOKIE, &cookie)
        .body(Body::empty())
        .unwrap();
    let reply = send(&router, request).await;
    assert!(!reply.status.is_success(), "GET answered {}", reply.status);
    assert_eq!(links(&pool).await, 0);
}

#[sqlx::test(migrations = false)]
async fn oversized_bodies_are_refused_before_they_are_read(pool: PgPool) {
    let router = migrated_app(&pool).await;
    let cookie = register(&router, "john").await;
    let body = format!("body={}", "a".repeat(server::MAX_REQUEST_BYTES + 1));
    let announced = form_post("/api/create_post", Some(&cookie))
        .header(header::CONTENT_LENGTH, body.len())
        .body(Body::from(body.clone()))
        .unwrap();
    let reply = send(&router, announced).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    // A body without a length is cut off while streaming: still a 4xx, never a 5xx.
    let streamed = call(&router, "/api/create_post", &body, Some(&cookie)).await;
    assert!(streamed.status.is_client_error(), "{}", streamed.status);
    let posts: i64 = sqlx::query_scalar("SELECT count(*) FROM posts")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(posts, 0);
}

#[sqlx::test(migrations = false)]
async fn pages_render_on_the_server_with_escaped_text_and_real_status_codes(pool: PgPool) {
    let router = migrated_app(&pool).await;
    let john = Visitor::registered(&router, "john").await;
    let reply = john.post("%3Cscript%3Ealert(1)%3C%2Fscript%3E").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    let page = send(
        &router,
        Request::get("/user/john").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the post is escaped"
    );
    assert!(!page.body.contains("<script>alert(1)"), "never raw HTML");

    let missing = send(
        &router,
        Request::get("/user/ghost").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("User ghost not found."));

    let home = send(
        &router,
        Request::get("/")
            .header(header::ACCEPT, "text/html")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(home.status.is_redirection(), "signed out: {}", home.status);
    assert_eq!(home.headers.get(header::LOCATION).unwrap(), "/login?next=/");
    let johns_home = john.page("/").await;
    assert_eq!(johns_home.status, StatusCode::OK);
    assert!(
        johns_home.body.contains("Say something"),
        "signed in: the composer above the feed"
    );

    let health = send(
        &router,
        Request::get("/healthz").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(health.status, StatusCode::OK);
}

#[sqlx::test(migrations = false)]
async fn every_response_carries_its_request_id_and_posting_says_so_with_javascript(pool: PgPool) {
    let router = migrated_app(&pool).await;
    let john = Visitor::registered(&router, "john").await;
    let page = get_page(&router, "/explore", None).await;
    let id = page.headers.get("x-request-id").expect("a request id");
    assert_eq!(id.len(), 36, "a UUID: {id:?}");
    let other = get_page(&router, "/explore", None).await;
    assert_ne!(
        other.headers.get("x-request-id"),
        Some(id),
        "one per request"
    );
    // An id the client sends is not taken: it could pose as another request in the log.
    let chosen = send(
        &router,
        Request::get("/explore")
            .header("x-request-id", "chosen-by-the-client")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let minted = chosen.headers.get("x-request-id").expect("a request id");
    assert_ne!(minted, "chosen-by-the-client");
    assert_eq!(minted.len(), 36);

    // The hydrated app hears the same outcome a plain form post gets as a flash.
    let posted = john.post("hello").await;
    assert_eq!(posted.status, StatusCode::OK);
    assert_eq!(posted.body, "\"Your post is now live!\"");
    assert!(posted.headers.contains_key("x-request-id"));
}
