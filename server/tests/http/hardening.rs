//! What an attacker tries, through the real router: crafted paths, methods, encodings and
//! cursors, sign-in floods, anonymous sessions. Each case gets a clear 4xx and changes nothing.

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use sqlx::PgPool;
use std::net::SocketAddr;

use crate::common::*;

/// A crafted profile link must never put markup into the page, head included.
#[sqlx::test(migrations = false)]
async fn crafted_profile_links_never_become_markup(pool: PgPool) {
    let router = migrated_app(&pool).await;
    let cookie = register(&router, "john").await;
    let payloads = [
        "%3C%2Ftitle%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "%26lt%3Bscript%26gt%3B",
    ];
    for payload in payloads {
        for suffix in ["", "/followers", "/following"] {
            for signed_in in [None, Some(cookie.as_str())] {
                let path = format!("/user/{payload}{suffix}");
                let page = get_page(&router, &path, signed_in).await;
                assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
                for raw in [
                    "<script>alert",
                    "<img src",
                    "</title><script",
                    "onerror=alert",
                ] {
                    assert!(!page.body.contains(raw), "{path}: {raw} in the page");
                }
                assert!(
                    page.body.contains("<title>Not found · Microblog</title>"),
                    "{path}: the title names no impossible user"
                );
            }
        }
    }
}

#[sqlx::test(migrations = false)]
async fn pages_carry_a_nonce_policy_that_matches_their_scripts(pool: PgPool) {
    let router = migrated_app(&pool).await;
    for path in ["/login", "/explore", "/user/ghost", "/no/such/page"] {
        let page = get_page(&router, path, None).await;
        let policy = page
            .headers
            .get(header::CONTENT_SECURITY_POLICY)
            .unwrap_or_else(|| panic!("{path}: no Content-Security-Policy"))
            .to_str()
            .unwrap()
            .to_owned();
        for directive in [
            "'wasm-unsafe-eval'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ] {
            assert!(
                policy.contains(directive),
                "{path}: {directive} in {policy}"
            );
        }
        assert!(
            !policy.contains("unsafe-inline"),
            "{path}: inline script allowed: {policy}"
        );
        let nonce = policy
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .unwrap_or_else(|| panic!("{path}: no nonce in {policy}"));
        assert!(nonce.len() >= 16, "{path}: a short nonce {nonce}");
        let scripts = page.body.matches("<script").count();
        let with_nonce = page.body.matches(&format!("nonce=\"{nonce}\"")).count();
        assert!(scripts > 0, "{path}: no hydration script");
        assert!(
            with_nonce >= scripts,
            "{path}: {scripts} scripts, {with_nonce} with this response's nonce"
        );
        assert_eq!(
            page.headers.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(),
            "nosniff"
        );
        assert!(page.headers.contains_key(header::REFERRER_POLICY));
    }
    let first = get_page(&router, "/login", None).await;
    let second = get_page(&router, "/login", None).await;
    assert_ne!(
        first.headers.get(header::CONTENT_SECURITY_POLICY),
        second.headers.get(header::CONTENT_SECURITY_POLICY),
        "a new nonce for every response"
    );
}

#[sqlx::test(migrations = false)]
async fn signed_out_visitors_are_redirected_with_a_real_303(pool: PgPool) {
    let router = migrated_app(&pool).await;
    for (path, next) in [
        ("/", "/login?next=/"),
        ("/edit_profile", "/login?next=/edit_profile"),
    ] {
        for accept in [None, Some("text/html"), Some("*/*")] {
            let mut request = Request::get(path);
            if let Some(accept) = accept {
                request = request.header(header::ACCEPT, accept);
            }
            let reply = send(&router, request.body(Body::empty()).unwrap()).await;
            assert_eq!(
                reply.status,
                StatusCode::SEE_OTHER,
                "{path} with {accept:?}"
            );
            assert_eq!(reply.headers.get(header::LOCATION).unwrap(), next);
        }
    }
}

#[sqlx::test(migrations = false)]
async fn cursors_outside_the_calendar_are_a_400(pool: PgPool) {
    let router = migrated_app(&pool).await;
    let cookie = register(&router, "john").await;
    let cursors = [
        "-300000000000000000_1",
        "9223372036854775807_1",
        "-9223372036854775808_1",
    ];
    for cursor in cursors {
        for parameter in ["before", "after"] {
            for path in ["/explore", "/", "/user/john", "/user/john/followers"] {
                let page = get_page(
                    &router,
                    &format!("{path}?{parameter}={cursor}"),
                    Some(&cookie),
                )
                .await;
                assert_eq!(
                    page.status,
                    StatusCode::BAD_REQUEST,
                    "{path}?{parameter}={cursor}"
                );
                assert!(page.body.contains("That page link is not valid."), "{path}");
            }
            for (function, extra) in [
                ("/api/explore", ""),
                ("/api/home_feed", ""),
                ("/api/user_posts", "username=john&"),
                ("/api/follow_list", "username=john&direction=Following&"),
            ] {
                let reply = call(
                    &router,
                    function,
                    &format!("{extra}{parameter}={cursor}"),
                    Some(&cookie),
                )
                .await;
                assert_eq!(
                    reply.status,
                    StatusCode::BAD_REQUEST,
                    "{function} {parameter}={cursor}"
                );
                assert!(
                    reply.body.contains("That page link is not valid."),
                    "{}",
                    reply.body
                );
            }
        }
    }
}

#[sqlx::test(migrations = false)]
async fn methods_no_route_takes_are_a_405(pool: PgPool) {
    let router = migrated_app(&pool).await;
    for method in [
        "CONNECT", "PUT", "DELETE", "PATCH", "TRACE", "OPTIONS", "PROPFIND",
    ] {
        for path in ["/", "/explore", "/api/follow", "/no/such/page"] {
            let request = Request::builder()
                .method(Method::from_bytes(method.as_bytes()).unwrap())
                .uri(path)
                .body(Body::empty())
                .unwrap();
            let reply = send(&router, request).await;
            assert_eq!(
                reply.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            assert_eq!(reply.headers.get(header::ALLOW).unwrap(), "GET, HEAD, POST");
            assert!(reply.body.contains("does not accept"), "{}", reply.body);
        }
    }
    // The authority form CONNECT really uses, which has no path at all.
    let request = Request::builder()
        .method(Method::CONNECT)
        .uri("127.0.0.1:3000")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&router, request).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[sqlx::test(migrations = false)]
async fn bodies_in_encodings_the_app_never_sends_are_a_415(pool: PgPool) {
    let router = migrated_app(&pool).await;
    let cookie = register(&router, "john").await;
    register(&router, "susan").await;
    for content_type in [
        "text/plain",
        "application/json",
        "multipart/form-data; boundary=x",
        "application/xml",
    ] {
        let request = Request::post("/api/follow")
            .header(header::HOST, "127.0.0.1:3000")
            .header(header::ORIGIN, SITE)
            .header(header::CONTENT_TYPE, content_type)
            .header(header::COOKIE, &cookie)
            .body(Body::from("username=susan"))
            .unwrap();
        let reply = send(&router, request).await;
        assert_eq!(
            reply.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type}"
        );
        assert!(reply.body.contains("only accepts forms"), "{}", reply.body);
    }
    assert_eq!(links(&pool).await, 0);
}

#[sqlx::test(migrations = false)]
async fn usernames_made_only_of_dots_are_refused_by_the_app_and_the_database(pool: PgPool) {
    let router = migrated_app(&pool).await;
    for name in [".", "..", "..."] {
        let form = format!(
            "username={name}&email=dots%40example.com&password=long+enough+1&password2=long+enough+1"
        );
        let reply = call(&router, "/api/register", &form, None).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{name}: {}",
            reply.body
        );
        assert!(reply.body.contains("at least one letter"), "{}", reply.body);
    }
    let inserted = sqlx::query(
        "INSERT INTO users (username, email, password_hash) VALUES ('..', 'x@example.com', 'x')",
    )
    .execute(&pool)
    .await;
    let error = inserted.expect_err("the database refuses it too");
    assert_eq!(
        error.as_database_error().and_then(|e| e.constraint()),
        Some("username_not_only_dots")
    );
}

/// A login posted by `address` without JavaScript.
fn login_from(address: &str, form: &str) -> Request<Body> {
    let mut request = form_post("/api/login", None)
        .body(Body::from(form.to_owned()))
        .unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(address.parse::<SocketAddr>().unwrap()));
    request
}

#[sqlx::test(migrations = false)]
async fn password_guessing_is_answered_429_with_retry_after(pool: PgPool) {
    app::db::migrate(&pool).await.unwrap();
    let router = app_with_throttle(&pool, app::throttle::ThrottleSettings::default());
    register(&router, "susan").await;
    let limits = app::throttle::ThrottleSettings::default();

    // From one address, guesses at many accounts: the address runs out after its burst, plus
    // the one more it earns every two seconds while the guesses are being checked (a busy
    // machine takes longer than that for thirty).
    let started = std::time::Instant::now();
    let mut statuses = Vec::new();
    for n in 0..limits.per_address_per_minute * 2 {
        let form = format!("username=someone{n}&password=guess+{n}");
        let reply = send(&router, login_from("198.51.100.1:5000", &form)).await;
        let refused = reply.status == StatusCode::TOO_MANY_REQUESTS;
        statuses.push(reply);
        if refused {
            break;
        }
    }
    let earned = (started.elapsed().as_secs() / 2) as usize;
    let last = statuses.pop().unwrap();
    assert!(
        statuses
            .iter()
            .all(|reply| reply.status == StatusCode::UNAUTHORIZED)
    );
    let checked = statuses.len();
    let burst = limits.per_address_per_minute as usize;
    assert!(
        (burst..=burst + earned).contains(&checked),
        "{checked} guesses checked, {earned} earned"
    );
    assert_eq!(last.status, StatusCode::TOO_MANY_REQUESTS, "{}", last.body);
    let retry_after: u64 = last.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=60).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    assert!(
        last.body.contains("Too many sign-in attempts"),
        "{}",
        last.body
    );

    // From many addresses, guesses at one account: the account runs out, even for the right
    // password, and other accounts are not affected.
    for n in 0..limits.per_account_burst {
        let reply = send(
            &router,
            login_from(
                &format!("203.0.113.{n}:5000"),
                "username=susan&password=wrong+guess",
            ),
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let right = format!("username=SUSAN&password={}", PASSWORD.replace(' ', "+"));
    let refused = send(&router, login_from("192.0.2.200:5000", &right)).await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.body
    );
    assert!(refused.session_cookie().is_none());
    let other = send(
        &router,
        login_from("192.0.2.201:5000", "username=john&password=x"),
    )
    .await;
    assert_eq!(
        other.status,
        StatusCode::UNAUTHORIZED,
        "another account still answers"
    );
}

#[sqlx::test(migrations = false)]
async fn errors_shown_to_signed_out_visitors_create_no_session(pool: PgPool) {
    let router = migrated_app(&pool).await;
    let before = sessions(&pool).await;
    let mut flash_cookie = None;
    for _ in 0..20 {
        let request = plain_form_post(
            "/api/login",
            "/login",
            None,
            "username=ghost&password=wrong+password",
        );
        let reply = send(&router, request).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert!(reply.session_cookie().is_none(), "no session for a visitor");
        flash_cookie = reply.cookie("microblog_flash");
    }
    assert_eq!(
        sessions(&pool).await,
        before,
        "no session rows were written"
    );

    // The message still reaches the page the browser is sent back to, once.
    let flash_cookie = flash_cookie.expect("the outcome travels in a cookie");
    let page = get_page(&router, "/login", Some(&flash_cookie)).await;
    assert!(
        page.body.contains("Invalid username or password."),
        "shown after the redirect"
    );
    let cleared = page
        .set_cookie_header("microblog_flash")
        .unwrap_or_default();
    assert!(
        cleared.starts_with("microblog_flash=;") && cleared.contains("Max-Age=0"),
        "the message is removed once shown: {cleared:?}"
    );
    let plain = get_page(&router, "/login", None).await;
    assert!(!plain.body.contains("Invalid username or password."));
    assert!(
        plain.headers.get(header::SET_COOKIE).is_none(),
        "a plain page view sets no cookie"
    );
}

#[sqlx::test(migrations = false)]
async fn page_views_of_a_signed_in_person_write_the_session_at_most_once_a_day(pool: PgPool) {
    let router = migrated_app(&pool).await;
    let cookie = register(&router, "john").await;
    let expiry = || async {
        sqlx::query_scalar::<_, sqlx::types::time::OffsetDateTime>(
            "SELECT expires_at FROM sessions",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let first = expiry().await;
    for path in ["/", "/explore", "/user/john"] {
        let page = get_page(&router, path, Some(&cookie)).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(
            page.headers.get(header::SET_COOKIE).is_none(),
            "{path} rewrote the session"
        );
    }
    assert_eq!(expiry().await, first, "same day, no write");
    let days_left = (first - sqlx::types::time::OffsetDateTime::now_utc()).whole_days();
    assert!(
        (29..=30).contains(&days_left),
        "30 days of inactivity allowed: {days_left}"
    );
}

/// Every statement the server runs has a time limit: one past it is cancelled by PostgreSQL and
/// answered as "try again" (503), not left to hold a connection.
#[tokio::test]
async fn statements_past_their_time_limit_are_cancelled_and_answered_503() {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL is set for the tests");
    let limit = std::time::Duration::from_millis(200);
    let pool = server::connect(&url, 1, Some(limit)).await.unwrap();
    let started = std::time::Instant::now();
    let error = sqlx::query("SELECT pg_sleep(10)")
        .execute(&pool)
        .await
        .expect_err("cancelled");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "cancelled after {:?}",
        started.elapsed()
    );
    assert_eq!(
        error.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("57014"),
        "{error}"
    );
    let answer = app::error::AppError::from(error);
    assert_eq!(answer.status_code(), 503);
    let unlimited = server::connect(&url, 1, None).await.unwrap();
    sqlx::query("SELECT pg_sleep(0.3)")
        .execute(&unlimited)
        .await
        .expect("the seed's connections have no limit");
}

#[sqlx::test(migrations = false)]
async fn metrics_are_for_this_machine_and_name_routes_not_paths(pool: PgPool) {
    let app = migrated_app(&pool).await;
    let from = |address: &str, path: &str| {
        let mut request = Request::get(path).body(Body::empty()).unwrap();
        let peer: SocketAddr = address.parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    };
    // A crawler inventing paths must not grow the metrics: they all count as one route.
    for n in 0..3 {
        send(&app, from("203.0.113.9:4000", &format!("/made-up-{n}"))).await;
    }
    send(&app, from("203.0.113.9:4000", "/user/nobody")).await;

    let outsider = send(&app, from("203.0.113.9:4000", "/metrics")).await;
    assert_eq!(outsider.status, StatusCode::NOT_FOUND);
    assert!(!outsider.body.contains("microblog_"));

    let local = send(&app, from("127.0.0.1:4000", "/metrics")).await;
    assert_eq!(local.status, StatusCode::OK);
    let metrics = local.body;
    assert!(
        metrics.contains(r#"route="unmatched""#) && !metrics.contains("made-up"),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"route="/user/{username}""#) && !metrics.contains("nobody"),
        "{metrics}"
    );
    assert!(metrics.contains("microblog_http_request_duration_seconds_bucket"));
    assert!(metrics.contains(r#"microblog_db_connections{node="primary",state="idle"}"#));
}
