//! The kept home page (server/src/page_cache/) through the real router: it is served again
//! only while nothing on it has changed, whichever server process the change went through.
//! Two routers on one database are two server processes, each with its own cache.

use axum::http::StatusCode;
use sqlx::PgPool;

use crate::common::*;

/// The home page as `visitor` gets it, and whether it was kept or rendered.
async fn home(visitor: &Visitor) -> (String, String) {
    let reply = visitor.page("/").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    for internal in ["x-microblog-cacheable-until", "x-microblog-not-cacheable"] {
        assert!(
            !reply.headers.contains_key(internal),
            "{internal} is ours alone"
        );
    }
    let outcome = reply
        .headers
        .get(server::page_cache::OUTCOME_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("none")
        .to_owned();
    (outcome, reply.body)
}

/// john follows susan, who has posted; john has seen his home page once on `process`, which
/// now keeps it.
async fn john_following_susan(pool: &PgPool, process: &axum::Router) -> (Visitor, Visitor) {
    let susan = Visitor::registered(process, "susan").await;
    susan.post("susan+first").await;
    let john = Visitor::registered(process, "john").await;
    john.follow("susan").await;
    age_all_posts(pool).await;
    let (outcome, page) = home(&john).await;
    assert_eq!(outcome, "rendered");
    assert!(page.contains("susan first"), "{page}");
    assert_eq!(
        home(&john).await.0,
        "hit",
        "an unchanged page is served again"
    );
    (john, susan)
}

#[sqlx::test(migrations = false)]
async fn a_kept_page_gets_a_fresh_nonce_and_its_policy_names_it(pool: PgPool) {
    let router = migrated_app(&pool).await;
    let (john, _) = john_following_susan(&pool, &router).await;
    let mut nonces = Vec::new();
    for _ in 0..2 {
        let reply = john.page("/").await;
        assert_eq!(
            reply.headers[server::page_cache::OUTCOME_HEADER],
            "hit",
            "{}",
            reply.body
        );
        let policy = reply.headers["content-security-policy"].to_str().unwrap();
        let nonce = policy
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .expect("the policy has a nonce")
            .to_owned();
        assert!(
            reply.body.contains(&format!("nonce=\"{nonce}\"")),
            "the page's scripts carry the policy's nonce"
        );
        nonces.push(nonce);
    }
    assert_ne!(nonces[0], nonces[1], "each response has its own nonce");
}

#[sqlx::test(migrations = false)]
async fn a_post_through_another_process_shows_at_once(pool: PgPool) {
    let first = migrated_app(&pool).await;
    let second = app(&pool);
    let (john, susan) = john_following_susan(&pool, &first).await;

    assert_eq!(
        susan.on(&second).post("susan+second").await.status,
        StatusCode::OK
    );
    let (outcome, page) = home(&john).await;
    assert_eq!(outcome, "rendered");
    assert!(page.contains("susan second"), "{page}");
}

#[sqlx::test(migrations = false)]
async fn a_post_by_someone_not_followed_keeps_the_page(pool: PgPool) {
    let router = migrated_app(&pool).await;
    let (john, _) = john_following_susan(&pool, &router).await;
    let mary = Visitor::registered(&router, "mary").await;
    mary.post("mary+says+hi").await;

    assert_eq!(
        home(&john).await.0,
        "hit",
        "mary's post is not on john's page"
    );
    // Nor is it once the page is rendered again: the check was right to keep it.
    john.post("john+says+hi").await;
    let (outcome, page) = home(&john).await;
    assert_eq!(outcome, "rendered", "john's own post is on his page");
    assert!(page.contains("john says hi") && !page.contains("mary says hi"));
}

#[sqlx::test(migrations = false)]
async fn a_post_committed_after_a_newer_one_is_not_missed(pool: PgPool) {
    let router = migrated_app(&pool).await;
    let (john, _) = john_following_susan(&pool, &router).await;
    // mary's two posts take the next two ids; the first is removed again, leaving a gap below
    // the newest id, as a post whose insert began first but has not committed yet would.
    let mary = Visitor::registered(&router, "mary").await;
    mary.post("mary+one").await;
    mary.post("mary+two").await;
    let gap: i64 = sqlx::query_scalar("DELETE FROM posts WHERE body = 'mary one' RETURNING id")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        home(&john).await.0,
        "hit",
        "the check has seen the newest id"
    );

    // Now that post commits: a lower id than one already seen, begun a moment ago.
    sqlx::query(
        "INSERT INTO posts (id, author_id, body, created_at) OVERRIDING SYSTEM VALUE \
         SELECT $1, id, 'susan was slow', now() - interval '1 second' FROM users \
         WHERE username = 'susan'",
    )
    .bind(gap)
    .execute(&pool)
    .await
    .unwrap();
    let (outcome, page) = home(&john).await;
    assert_eq!(outcome, "rendered");
    assert!(page.contains("susan was slow"), "{page}");
}

#[sqlx::test(migrations = false)]
async fn following_on_one_process_then_going_home_on_another(pool: PgPool) {
    let first = migrated_app(&pool).await;
    let second = app(&pool);
    let (john, _) = john_following_susan(&pool, &first).await;
    let mary = Visitor::registered(&first, "mary").await;
    mary.post("mary+says+hi").await;
    age_all_posts(&pool).await;
    assert_eq!(home(&john).await.0, "hit");

    assert_eq!(john.on(&second).follow("mary").await.status, StatusCode::OK);
    let (outcome, page) = home(&john).await;
    assert_eq!(outcome, "rendered");
    assert!(page.contains("mary says hi"), "{page}");

    assert_eq!(
        john.on(&second).unfollow("susan").await.status,
        StatusCode::OK
    );
    let (outcome, page) = home(&john).await;
    assert_eq!(outcome, "rendered");
    assert!(!page.contains("susan first"), "{page}");
}

#[sqlx::test(migrations = false)]
async fn being_followed_changes_the_page(pool: PgPool) {
    let first = migrated_app(&pool).await;
    let second = app(&pool);
    let (john, susan) = john_following_susan(&pool, &first).await;

    // Who to follow says "Follows you"; the reader's page must not miss it.
    susan.on(&second).follow("john").await;
    assert_eq!(home(&john).await.0, "rendered");
}

#[sqlx::test(migrations = false)]
async fn a_new_name_through_another_process_shows_at_once(pool: PgPool) {
    let first = migrated_app(&pool).await;
    let second = app(&pool);
    let (john, susan) = john_following_susan(&pool, &first).await;

    susan.on(&second).edit_profile("susanna", "").await;
    let (outcome, page) = home(&john).await;
    assert_eq!(outcome, "rendered");
    assert!(page.contains("susanna"), "{page}");
}

#[sqlx::test(migrations = false)]
async fn the_readers_own_new_name_shows_at_once(pool: PgPool) {
    let first = migrated_app(&pool).await;
    let second = app(&pool);
    let (john, _) = john_following_susan(&pool, &first).await;

    john.on(&second).edit_profile("johnny", "").await;
    let (outcome, page) = home(&john).await;
    assert_eq!(outcome, "rendered");
    assert!(greeting(&page).contains("johnny"), "{page}");
}

#[sqlx::test(migrations = false)]
async fn signing_out_on_another_process_ends_the_kept_page(pool: PgPool) {
    let first = migrated_app(&pool).await;
    let second = app(&pool);
    let (john, _) = john_following_susan(&pool, &first).await;

    assert_eq!(john.on(&second).logout().await.status, StatusCode::OK);
    let reply = john.page("/").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.headers["location"], "/login?next=/");
    assert!(!reply.body.contains("susan first"));
}

#[sqlx::test(migrations = false)]
async fn each_reader_gets_only_their_own_page(pool: PgPool) {
    let router = migrated_app(&pool).await;
    let (john, _) = john_following_susan(&pool, &router).await;
    let mary = Visitor::registered(&router, "mary").await;

    let (outcome, page) = home(&mary).await;
    assert_eq!(outcome, "rendered");
    assert!(greeting(&page).contains("mary") && !page.contains("susan first"));
    assert!(greeting(&home(&john).await.1).contains("john"));
}

/// The page's heading, "Hi, john!", in whatever markup Leptos puts around the name.
fn greeting(page: &str) -> &str {
    let start = page.find("<h1>").expect("a heading");
    let end = start + page[start..].find("</h1>").expect("a closed heading");
    &page[start..end]
}

#[sqlx::test(migrations = false)]
async fn a_one_time_message_is_shown_once_and_never_kept(pool: PgPool) {
    let router = migrated_app(&pool).await;
    let (john, _) = john_following_susan(&pool, &router).await;

    // Without JavaScript: the post is answered with a redirect home and a one-time message.
    let posted = send(
        &router,
        plain_form_post(
            "/api/create_post",
            "/",
            john.cookie.as_deref(),
            "body=hello",
        ),
    )
    .await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER);
    let flash = posted
        .cookie("microblog_flash")
        .expect("a one-time message");
    let cookies = format!("{}; {flash}", john.cookie.as_deref().unwrap());
    let shown = get_page(&router, "/", Some(&cookies)).await;
    assert!(
        shown.body.contains("Your post is now live!"),
        "{}",
        shown.body
    );
    assert!(
        !shown
            .headers
            .contains_key(server::page_cache::OUTCOME_HEADER)
    );

    let (_, page) = home(&john).await;
    assert!(!page.contains("Your post is now live!"), "{page}");
}

#[sqlx::test(migrations = false)]
async fn older_pages_and_signed_out_visitors_are_not_kept(pool: PgPool) {
    let router = migrated_app(&pool).await;
    let (john, _) = john_following_susan(&pool, &router).await;

    let older = john.page("/?before=1764400000000000_1").await;
    assert_eq!(older.status, StatusCode::OK);
    assert!(
        !older
            .headers
            .contains_key(server::page_cache::OUTCOME_HEADER)
    );
    // Every time: the page asks for no feed it would be refused, whose 401 could race the
    // redirect for the response's status.
    for _ in 0..10 {
        let visitor = Visitor::signed_out(&router).page("/").await;
        assert_eq!(visitor.status, StatusCode::SEE_OTHER);
        let outcome = visitor.headers.get(server::page_cache::OUTCOME_HEADER);
        assert!(outcome.is_none());
    }
}

#[sqlx::test(migrations = false)]
async fn many_first_views_at_once_render_the_page_once(pool: PgPool) {
    let router = migrated_app(&pool).await;
    // susan's post, from two hours ago, is all mary's page shows.
    john_following_susan(&pool, &router).await;
    let mary = Visitor::registered(&router, "mary").await;
    mary.follow("susan").await;

    // Tabs restored at once: none finds a page, one renders it, the others wait and get it.
    let views = futures_util::future::join_all((0..8).map(|_| home(&mary))).await;
    let rendered = views.iter().filter(|(outcome, _)| outcome == "rendered");
    assert_eq!(
        rendered.count(),
        1,
        "the others waited for it and were served it"
    );
    assert!(views.iter().all(|(_, page)| page.contains("susan first")));
}

#[sqlx::test(migrations = false)]
async fn a_post_that_commits_long_after_it_began_is_never_missed_by_a_kept_page(pool: PgPool) {
    let router = migrated_app(&pool).await;
    let (john, _) = john_following_susan(&pool, &router).await;
    let susan_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'susan'")
        .fetch_one(&pool)
        .await
        .unwrap();
    // A post that began ten seconds ago and is still waiting to commit (behind a batch of
    // follows holding susan's row, say).
    let mut late = pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO posts (author_id, body, created_at)
         VALUES ($1, 'a late commit', now() - interval '10 seconds')",
    )
    .bind(susan_id)
    .execute(&mut *late)
    .await
    .unwrap();
    // Checked while it is not committed yet: nothing new, so the page is known complete at a
    // moment after the post began.
    let (outcome, page) = home(&john).await;
    assert_eq!(outcome, "hit");
    assert!(!page.contains("a late commit"));
    late.commit().await.unwrap();
    let (outcome, page) = home(&john).await;
    assert_eq!(
        outcome, "rendered",
        "the committed post is news to the kept page"
    );
    assert!(page.contains("a late commit"), "{page}");
}
