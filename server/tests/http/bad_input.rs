//! Hostile and malformed input across every server function: each case must get a 4xx with a
//! message a person can read, never a 5xx, never an internal detail, and must change nothing.

use crate::common::*;
use axum::body::Body;
use axum::http::{Request, header};
use sqlx::PgPool;

/// Everything a request could change, as one fingerprint (last_seen excluded: reading pages
/// refreshes it by design).
async fn fingerprint(pool: &PgPool) -> String {
    sqlx::query_scalar(
        "SELECT concat_ws('|',
            (SELECT md5(coalesce(string_agg(concat_ws(',', id, username, email, password_hash, about_me,
                                                      followers_count, following_count), ';' ORDER BY id), ''))
             FROM users),
            (SELECT md5(coalesce(string_agg(concat_ws(',', id, author_id, body), ';' ORDER BY id), '')) FROM posts),
            (SELECT md5(coalesce(string_agg(concat_ws(',', follower_id, followed_id), ';'
                                            ORDER BY follower_id, followed_id), '')) FROM followers))",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Values that are wrong wherever a username, a cursor or a flag is expected.
const HOSTILE: &[&str] = &[
    "",
    "%20%20%20",
    "ghost",
    "%27%3B%20DROP%20TABLE%20users%3B--",
    "robert%27)%20OR%20(%271%27%3D%271",
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
    "..%2F..%2Fetc%2Fpasswd",
    "%00",
    "a%00b",
    "%FF%FE",
    "%C3%28",
    "%E2%80%AE",
    "-1",
    "-1_-1",
    "99999999999999999999999_1",
    "1_99999999999999999999999",
    "NaN_NaN",
    "__",
    "%25%25%25",
    "zo%C3%AB",
];

fn long(n: usize) -> String {
    "a".repeat(n)
}

struct Case {
    path: &'static str,
    form: String,
    why: String,
}

fn cases(existing_user: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |path: &'static str, form: String, why: &str| {
        cases.push(Case {
            path,
            form,
            why: why.to_owned(),
        })
    };
    let hostile: Vec<String> = HOSTILE
        .iter()
        .map(|value| value.to_string())
        .chain([long(65), long(5000)])
        .collect();
    for value in &hostile {
        let shown = &value[..value.len().min(24)];
        add(
            "/api/follow",
            format!("username={value}"),
            &format!("follow {shown}"),
        );
        add(
            "/api/unfollow",
            format!("username={value}"),
            &format!("unfollow {shown}"),
        );
        add(
            "/api/profile",
            format!("username={value}"),
            &format!("profile {shown}"),
        );
        add(
            "/api/user_posts",
            format!("username={value}"),
            &format!("user_posts {shown}"),
        );
        add(
            "/api/follow_list",
            format!("username={value}&direction=Followers"),
            &format!("follow_list {shown}"),
        );
        // A value that is a fine username would rightly be accepted by these two.
        let valid_name = app::domain::could_be_username(value);
        if !valid_name && !value.is_empty() {
            add(
                "/api/edit_profile",
                format!("username={value}&about_me="),
                &format!("edit_profile username {shown}"),
            );
            add(
                "/api/register",
                format!(
                    "username={value}&email=x%40example.com&password=long+enough+1&password2=long+enough+1"
                ),
                &format!("register username {shown}"),
            );
        }
        if !value.is_empty() && !value.starts_with("%20") {
            add(
                "/api/home_feed",
                format!("before={value}"),
                &format!("home_feed before={shown}"),
            );
            add(
                "/api/explore",
                format!("after={value}"),
                &format!("explore after={shown}"),
            );
            add(
                "/api/follow_list",
                format!("username={existing_user}&direction={value}"),
                &format!("follow_list flag {shown}"),
            );
            add(
                "/api/register",
                format!(
                    "username=newcomer&email={value}&password=long+enough+1&password2=long+enough+1"
                ),
                &format!("register email {shown}"),
            );
            add(
                "/api/login",
                format!("username={value}&password={value}"),
                &format!("login {shown}"),
            );
        }
    }
    for (form, why) in [
        (String::new(), "post with no field"),
        ("body=".into(), "empty post"),
        ("body=%20%0A%09".into(), "blank post"),
        (format!("body={}", long(281)), "281 characters"),
        ("text=hello".into(), "wrong field name"),
        ("body=a&body=b".into(), "field twice"),
    ] {
        add("/api/create_post", form, why);
    }
    for (form, why) in [
        (String::new(), "edit with no fields"),
        (
            format!("username={existing_user}&about_me={}", long(141)),
            "about me of 141",
        ),
        ("username=other&about_me=x".into(), "a name someone has"),
        ("about_me=x".into(), "missing username"),
    ] {
        add("/api/edit_profile", form, why);
    }
    for (form, why) in [
        ("username=newcomer&email=n%40example.com&password=short&password2=short".into(), "short password"),
        ("username=newcomer&email=n%40example.com&password=long+enough+1&password2=long+enough+2".into(), "passwords differ"),
        (format!("username=newcomer&email=n%40example.com&password={0}&password2={0}", long(300)), "password of 300"),
        ("username=OTHER&email=n%40example.com&password=long+enough+1&password2=long+enough+1".into(), "name taken, other case"),
        ("username=newcomer&email=OTHER%40example.com&password=long+enough+1&password2=long+enough+1".into(), "email taken, other case"),
        ("username=newcomer".into(), "missing fields"),
        (String::new(), "register with nothing"),
    ] {
        add("/api/register", form, why);
    }
    add("/api/login", String::new(), "login with nothing");
    add("/api/follow", String::new(), "follow with nothing");
    add(
        "/api/follow",
        format!("username={existing_user}"),
        "follow yourself",
    );
    add(
        "/api/unfollow",
        format!("username={existing_user}"),
        "unfollow yourself",
    );
    add("/api/no_such_function", String::new(), "unknown function");
    cases
}

#[sqlx::test(migrations = false)]
async fn hostile_input_gets_a_readable_4xx_and_changes_nothing(pool: PgPool) {
    let router = migrated_app(&pool).await;
    let cookie = register(&router, "me").await;
    register(&router, "other").await;
    let before = fingerprint(&pool).await;

    let cases = cases("me");
    assert!(cases.len() >= 200, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let reply = call(&router, case.path, &case.form, Some(&cookie)).await;
        let leaked = [
            "sqlx",
            "SQL",
            "panicked",
            "database error",
            "constraint",
            "syntax",
        ]
        .iter()
        .find(|secret| reply.body.contains(**secret));
        if !reply.status.is_client_error() || reply.body.trim().is_empty() || leaked.is_some() {
            failures.push(format!(
                "{} ({} {}): {} {}",
                case.why,
                case.path,
                case.form.chars().take(60).collect::<String>(),
                reply.status,
                reply.body.chars().take(120).collect::<String>()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_eq!(fingerprint(&pool).await, before, "the database changed");
}

#[sqlx::test(migrations = false)]
async fn bodies_that_are_not_forms_get_a_4xx(pool: PgPool) {
    let router = migrated_app(&pool).await;
    let cookie = register(&router, "me").await;
    let before = fingerprint(&pool).await;
    let bodies: &[(&str, &[u8])] = &[
        (
            "application/json",
            br#"{"username": ["not", "a", "string"]}"#,
        ),
        ("application/json", b"{not json"),
        (
            "application/x-www-form-urlencoded",
            &[0xff, 0xfe, 0x00, 0x80],
        ),
        ("text/plain", b"username=me"),
        ("multipart/form-data; boundary=x", b"--x\r\ngarbage"),
    ];
    for (content_type, body) in bodies {
        let request = Request::post("/api/follow")
            .header(header::HOST, "127.0.0.1:3000")
            .header(header::ORIGIN, SITE)
            .header(header::CONTENT_TYPE, *content_type)
            .header(header::ACCEPT, "application/json")
            .header(header::COOKIE, &cookie)
            .body(Body::from(body.to_vec()))
            .unwrap();
        let reply = send(&router, request).await;
        assert!(
            reply.status.is_client_error(),
            "{content_type}: {} {}",
            reply.status,
            reply.body
        );
    }
    assert_eq!(fingerprint(&pool).await, before);
}

#[sqlx::test(migrations = false)]
async fn markup_in_posts_and_about_me_is_shown_as_text(pool: PgPool) {
    let router = migrated_app(&pool).await;
    let cookie = register(&router, "me").await;
    let script = "%3Cscript%3Ealert(%22x%22)%3C%2Fscript%3E";
    assert!(
        call(
            &router,
            "/api/create_post",
            &format!("body={script}"),
            Some(&cookie)
        )
        .await
        .status
        .is_success()
    );
    assert!(
        call(
            &router,
            "/api/edit_profile",
            &format!("username=me&about_me={script}"),
            Some(&cookie)
        )
        .await
        .status
        .is_success()
    );
    let page = send(
        &router,
        Request::get("/user/me").body(Body::empty()).unwrap(),
    )
    .await;
    assert!(
        !page.body.contains("<script>alert"),
        "raw markup in the page"
    );
    assert!(
        page.body.matches("&lt;script&gt;alert").count() >= 2,
        "post and about me, escaped"
    );
}
