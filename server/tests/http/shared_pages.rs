//! Explore and profiles kept once for every viewer who sees the same page
//! (server/src/page_cache/): each viewer gets exactly what a render would have given them,
//! and a change through any server process shows at once. Two routers on one database are two
//! server processes, each with its own cache.

use axum::http::StatusCode;
use sqlx::PgPool;

use crate::common::*;

/// Posts made, and everyone last seen, hours ago (see `age_all_posts`).
async fn age_everything(pool: &PgPool) {
    age_all_posts(pool).await;
    age_last_seen(pool).await;
}

/// Whether the view was served again (`hit`), rendered, or not the cache's at all (`none`),
/// and the page with its nonce taken out: each response has its own.
async fn view(visitor: &Visitor, path: &str) -> (String, String) {
    let reply = visitor.page(path).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let outcome = reply
        .headers
        .get(server::page_cache::OUTCOME_HEADER)
        .map_or("none", |value| value.to_str().unwrap())
        .to_owned();
    let policy = reply.headers["content-security-policy"].to_str().unwrap();
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("the policy has a nonce");
    assert!(
        reply.body.contains(&format!("nonce=\"{nonce}\"")),
        "the page's scripts carry the policy's nonce"
    );
    (outcome, reply.body.replace(nonce, "NONCE"))
}

/// The navigation: who the page says is signed in.
fn navigation(page: &str) -> &str {
    &page[..page.find("<main").expect("a main element")]
}

/// susan has posted, and john, mary and paul have registered; all of it long enough ago for
/// the pages to stay the same for their whole minute.
async fn four_people(pool: &PgPool, router: &axum::Router) -> [Visitor; 4] {
    let susan = Visitor::registered(router, "susan").await;
    susan.post("susan+was+here").await;
    let john = Visitor::registered(router, "john").await;
    let mary = Visitor::registered(router, "mary").await;
    let paul = Visitor::registered(router, "paul").await;
    age_everything(pool).await;
    [susan, john, mary, paul]
}

#[sqlx::test(migrations = false)]
async fn explore_is_rendered_once_and_each_viewer_gets_their_own_page(pool: PgPool) {
    let router = migrated_app(&pool).await;
    let rendering = app_keeping_no_pages(&pool);
    let [_, john, mary, _] = four_people(&pool, &router).await;

    let (outcome, johns) = view(&john, "/explore").await;
    assert_eq!(outcome, "rendered");
    assert!(johns.contains("susan was here"), "{johns}");
    let (outcome, marys) = view(&mary, "/explore").await;
    assert_eq!(outcome, "hit", "john's render serves mary");
    assert!(
        navigation(&marys).contains("href=\"/user/mary\""),
        "{marys}"
    );
    assert!(
        !marys.contains("john"),
        "nothing of john's is left: {marys}"
    );
    assert_eq!(
        marys,
        view(&mary.on(&rendering), "/explore").await.1,
        "byte for byte what her own render gives"
    );

    let (outcome, signed_out) = view(&Visitor::signed_out(&router), "/explore").await;
    assert_eq!(outcome, "rendered", "a signed-out page has its own render");
    assert!(!signed_out.contains("/user/mary\""), "{signed_out}");
    let (outcome, again) = view(&Visitor::signed_out(&router), "/explore").await;
    assert_eq!(outcome, "hit");
    assert_eq!(again, signed_out);
}

#[sqlx::test(migrations = false)]
async fn a_profile_is_kept_for_each_way_a_viewer_stands_to_its_owner(pool: PgPool) {
    let router = migrated_app(&pool).await;
    let rendering = app_keeping_no_pages(&pool);
    let [susan, john, mary, paul] = four_people(&pool, &router).await;
    john.follow("susan").await;
    paul.follow("susan").await;
    susan.follow("paul").await;
    assert_eq!(
        view(&susan, "/user/susan").await.0,
        "none",
        "her own is hers"
    );
    // Her view said she was just seen.
    age_everything(&pool).await;

    // A profile is kept from its second render within ten seconds: most are seen once.
    for _ in 0..2 {
        assert_eq!(view(&john, "/user/susan").await.0, "rendered");
        assert_eq!(
            view(&paul, "/user/susan").await.0,
            "rendered",
            "susan follows paul: he gets his own page (Follows you)"
        );
        assert_eq!(
            view(&mary, "/user/susan").await.0,
            "rendered",
            "not following"
        );
    }

    let [again_john, again_paul, again_mary] =
        [&john, &paul, &mary].map(|who| view(who, "/user/susan"));
    for (who, seen) in [
        ("john", again_john.await),
        ("paul", again_paul.await),
        ("mary", again_mary.await),
    ] {
        assert_eq!(seen.0, "hit", "{who}");
    }
    let (_, pauls) = view(&paul, "/user/susan").await;
    assert!(pauls.contains("Follows you"), "{pauls}");
    assert!(pauls.contains("Unfollow"), "{pauls}");
    assert_eq!(pauls, view(&paul.on(&rendering), "/user/susan").await.1);

    // mary follows susan too, so she stands as john does; the page changed, and her render of
    // it serves him.
    mary.follow("susan").await;
    let (outcome, marys) = view(&mary, "/user/susan").await;
    assert_eq!(outcome, "rendered", "susan's counts changed");
    assert!(marys.contains("Unfollow"), "{marys}");
    let (outcome, johns) = view(&john, "/user/susan").await;
    assert_eq!(outcome, "hit", "mary's render serves john");
    assert_eq!(johns, view(&john.on(&rendering), "/user/susan").await.1);
    assert!(navigation(&johns).contains("href=\"/user/john\""));
}

#[sqlx::test(migrations = false)]
async fn changes_through_another_process_show_at_once(pool: PgPool) {
    let first = migrated_app(&pool).await;
    let second = app(&pool);
    let [susan, john, mary, _] = four_people(&pool, &first).await;
    view(&john, "/user/susan").await;
    for path in ["/explore", "/user/susan"] {
        assert_eq!(view(&john, path).await.0, "rendered", "{path}");
        assert_eq!(view(&john, path).await.0, "hit", "{path}");
    }

    susan.on(&second).post("susan+again").await;
    for path in ["/explore", "/user/susan"] {
        let (outcome, page) = view(&john, path).await;
        assert_eq!(outcome, "rendered", "{path}");
        assert!(page.contains("susan again"), "{path}: {page}");
    }
    age_everything(&pool).await;

    mary.on(&second).follow("susan").await;
    let (outcome, page) = view(&john, "/user/susan").await;
    assert_eq!(outcome, "rendered", "her followers changed");
    assert!(page.contains("<span class=\"followers-count\">1"), "{page}");

    // Her about text alone: same name, same page key.
    susan.on(&second).edit_profile("susan", "just+me").await;
    let (outcome, page) = view(&john, "/user/susan").await;
    assert_eq!(outcome, "rendered", "her about changed");
    assert!(page.contains("just me"), "{page}");

    susan
        .on(&second)
        .edit_profile("susanna", "hello+there")
        .await;
    let (outcome, page) = view(&john, "/explore").await;
    assert_eq!(outcome, "rendered", "her name is on explore");
    assert!(page.contains(">susanna<"), "{page}");
    let (outcome, page) = view(&john, "/user/susanna").await;
    assert_eq!(outcome, "rendered");
    assert!(page.contains("hello there"), "{page}");
    assert_eq!(
        view(&john, "/user/susanna").await.0,
        "rendered",
        "kept from now on"
    );
    assert_eq!(view(&john, "/user/susanna").await.0, "hit");

    // Seen again after a while away: "Last seen" moves.
    sqlx::query(
        "UPDATE users SET last_seen = now() - interval '3 hours' WHERE username = 'susanna'",
    )
    .execute(&pool)
    .await
    .unwrap();
    let (outcome, page) = view(&john, "/user/susanna").await;
    assert_eq!(outcome, "rendered");
    assert!(page.contains("3 hours ago"), "{page}");
}

#[sqlx::test(migrations = false)]
async fn signing_out_on_another_process_leaves_only_the_signed_out_page(pool: PgPool) {
    let first = migrated_app(&pool).await;
    let second = app(&pool);
    let [_, john, _, _] = four_people(&pool, &first).await;
    view(&john, "/explore").await;
    assert_eq!(view(&john, "/explore").await.0, "hit");

    assert_eq!(john.on(&second).logout().await.status, StatusCode::OK);
    let (_, page) = view(&john, "/explore").await;
    assert!(!page.contains("/user/john\""), "{page}");
    assert!(navigation(&page).contains("href=\"/login\""), "{page}");
}

#[sqlx::test(migrations = false)]
async fn older_pages_and_unknown_profiles_are_not_kept(pool: PgPool) {
    let router = migrated_app(&pool).await;
    let [_, john, _, _] = four_people(&pool, &router).await;
    for _ in 0..2 {
        let older = john.page("/explore?before=1764400000000000_1").await;
        assert_eq!(older.status, StatusCode::OK);
        assert!(
            !older
                .headers
                .contains_key(server::page_cache::OUTCOME_HEADER)
        );
        let unknown = john.page("/user/nobody").await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        assert!(
            !unknown
                .headers
                .contains_key(server::page_cache::OUTCOME_HEADER)
        );
    }
}

/// Paths an attacker might craft around a profile: a name spelt with escapes, a trailing
/// slash, an empty query, a name no account can have. None is taken for a kept page, each is
/// answered as the app answers it without the cache, and none fails.
#[sqlx::test(migrations = false)]
async fn crafted_profile_paths_are_never_served_from_the_cache(pool: PgPool) {
    let router = migrated_app(&pool).await;
    let rendering = app_keeping_no_pages(&pool);
    let [_, john, _, _] = four_people(&pool, &router).await;
    // susan's page kept for john's standing, so a crafted path that reached it would show.
    for _ in 0..3 {
        view(&john, "/user/susan").await;
    }
    assert_eq!(view(&john, "/user/susan").await.0, "hit");
    for path in [
        "/user/%73usan",
        "/user/susan/",
        "/user/susan?",
        "/user/susan%00",
        "/user/su..san",
        "/user/",
        "/explore/",
    ] {
        for _ in 0..2 {
            let reply = john.page(path).await;
            assert!(
                !reply
                    .headers
                    .contains_key(server::page_cache::OUTCOME_HEADER),
                "{path}"
            );
            assert!(reply.status.as_u16() < 500, "{path}: {}", reply.status);
            assert_eq!(
                reply.status,
                john.on(&rendering).page(path).await.status,
                "{path}: as without the cache"
            );
        }
    }
}
