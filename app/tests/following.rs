//! The follow graph and the home feed on a real PostgreSQL (SPEC §2).

mod common;

use app::auth::SessionClaim;
use app::db::posts::FeedWalk;
use app::db::{follows, posts, tutorial, users};
use app::error::AppError;
use app::model::{Direction, PageRequest, PostView, UserId};
use common::{
    counts, cursor_of, delete_user, is_following, link_rows, name, post_at, post_newest,
    statements_waiting_for_locks, user, users_with_wrong_counters,
};
use sqlx::PgPool;
use tower_sessions::session::Id;

fn bodies(posts: &[PostView]) -> Vec<&str> {
    posts.iter().map(|post| post.body.as_str()).collect()
}

/// The first page of `me`'s feed, checking that every walk the query may take agrees on it.
async fn feed(pool: &PgPool, me: UserId) -> Vec<String> {
    let bodies_by = |walk| async move {
        posts::followed_posts_by(pool, me, walk, PageRequest::First)
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|post| post.body)
            .collect::<Vec<_>>()
    };
    let per_author = bodies_by(FeedWalk::PerAuthor).await;
    for walk in FeedWalk::ALL.into_iter().skip(1) {
        assert_eq!(bodies_by(walk).await, per_author, "{walk:?} agrees");
    }
    per_author
}

#[sqlx::test(migrator = "app::db::MIGRATOR")]
async fn the_canonical_scenario_gives_each_user_the_feed_of_whom_they_follow(pool: PgPool) {
    let john = user(&pool, "john").await;
    let susan = user(&pool, "susan").await;
    let mary = user(&pool, "mary").await;
    let david = user(&pool, "david").await;
    post_at(&pool, john, "post from john", 1).await;
    post_at(&pool, susan, "post from susan", 4).await;
    post_at(&pool, mary, "post from mary", 3).await;
    post_at(&pool, david, "post from david", 2).await;

    follows::follow(&pool, john, &name("susan")).await.unwrap();
    follows::follow(&pool, john, &name("david")).await.unwrap();
    follows::follow(&pool, susan, &name("mary")).await.unwrap();
    follows::follow(&pool, mary, &name("david")).await.unwrap();

    assert_eq!(
        feed(&pool, john).await,
        ["post from susan", "post from david", "post from john"]
    );
    assert_eq!(
        feed(&pool, susan).await,
        ["post from susan", "post from mary"]
    );
    assert_eq!(
        feed(&pool, mary).await,
        ["post from mary", "post from david"]
    );
    assert_eq!(feed(&pool, david).await, ["post from david"]);

    // The tutorial's query agrees on every feed.
    for (me, name) in [
        (john, "john"),
        (susan, "susan"),
        (mary, "mary"),
        (david, "david"),
    ] {
        let baseline = tutorial::followed_posts(&pool, me, 1, 20).await.unwrap();
        assert_eq!(
            bodies(&baseline),
            feed(&pool, me).await,
            "{name}'s feed, tutorial query"
        );
    }
}

#[sqlx::test(migrator = "app::db::MIGRATOR")]
async fn counts_follow_a_follow_and_an_unfollow(pool: PgPool) {
    let john = user(&pool, "john").await;
    let susan = user(&pool, "susan").await;
    for id in [john, susan] {
        let counts = counts(&pool, id).await;
        assert_eq!(
            (counts.followers, counts.following),
            (0, 0),
            "new users follow nobody"
        );
    }
    assert!(!is_following(&pool, john, susan).await);

    let state = follows::follow(&pool, john, &name("susan")).await.unwrap();
    assert!(state.following);
    assert_eq!(state.message(), "You are following susan!");
    assert_eq!(
        state.followers_count, 1,
        "the result carries susan's new count"
    );
    assert!(is_following(&pool, john, susan).await);
    assert!(!is_following(&pool, susan, john).await);
    assert_eq!(counts(&pool, john).await.following, 1);
    assert_eq!(counts(&pool, susan).await.followers, 1);
    let following = follows::list(
        &pool,
        None,
        &name("john"),
        Direction::Following,
        PageRequest::First,
        20,
    )
    .await
    .unwrap();
    assert_eq!(
        following
            .items
            .iter()
            .map(|u| u.username.as_str())
            .collect::<Vec<_>>(),
        ["susan"]
    );
    let followers = follows::list(
        &pool,
        None,
        &name("susan"),
        Direction::Followers,
        PageRequest::First,
        20,
    )
    .await
    .unwrap();
    assert_eq!(
        followers
            .items
            .iter()
            .map(|u| u.username.as_str())
            .collect::<Vec<_>>(),
        ["john"]
    );

    let state = follows::unfollow(&pool, john, &name("susan"))
        .await
        .unwrap();
    assert!(!state.following);
    assert_eq!(state.message(), "You are not following susan.");
    assert_eq!(state.followers_count, 0);
    assert_eq!(counts(&pool, john).await.following, 0);
    assert_eq!(counts(&pool, susan).await.followers, 0);
}

#[sqlx::test(migrator = "app::db::MIGRATOR")]
async fn following_twice_leaves_one_link(pool: PgPool) {
    let john = user(&pool, "john").await;
    user(&pool, "susan").await;
    follows::follow(&pool, john, &name("susan")).await.unwrap();
    let again = follows::follow(&pool, john, &name("SUSAN")).await.unwrap();
    assert_eq!(link_rows(&pool).await, 1);
    assert_eq!(again.followers_count, 1);
    assert!(users_with_wrong_counters(&pool).await.is_empty());
}

/// A double click, or two tabs: every answer counts the person in, including those whose
/// statement waited for another to make the change.
#[sqlx::test(migrator = "app::db::MIGRATOR")]
async fn the_same_follow_sent_at_once_is_counted_in_every_answer(pool: PgPool) {
    let john = user(&pool, "john").await;
    user(&pool, "susan").await;
    for round in 0..5 {
        let change = |following: bool| {
            let pool = pool.clone();
            tokio::spawn(async move {
                if following {
                    follows::follow(&pool, john, &name("susan")).await
                } else {
                    follows::unfollow(&pool, john, &name("susan")).await
                }
            })
        };
        let following = round % 2 == 0;
        let answers = futures::future::join_all((0..8).map(|_| change(following))).await;
        for answer in answers {
            let state = answer.unwrap().unwrap();
            assert_eq!(state.following, following);
            assert_eq!(
                state.followers_count,
                i64::from(following),
                "round {round}: susan's count as the answer gives it"
            );
        }
        assert_eq!(link_rows(&pool).await, i64::from(following));
    }
    assert!(users_with_wrong_counters(&pool).await.is_empty());
}

/// Another tab unfollows while this one follows again: the follow waits for the unfollow to
/// commit, and its answer counts the link as it ends up, not as it was when the follow began.
#[sqlx::test(migrator = "app::db::MIGRATOR")]
async fn a_follow_that_waited_for_an_unfollow_of_the_same_link_answers_the_final_count(
    pool: PgPool,
) {
    let john = user(&pool, "john").await;
    let mary = user(&pool, "mary").await;
    let susan = user(&pool, "susan").await;
    follows::follow(&pool, john, &name("susan")).await.unwrap();
    follows::follow(&pool, mary, &name("susan")).await.unwrap();

    let mut other_tab = pool.begin().await.unwrap();
    sqlx::query("DELETE FROM followers WHERE follower_id = $1 AND followed_id = $2")
        .bind(john.get())
        .bind(susan.get())
        .execute(&mut *other_tab)
        .await
        .unwrap();
    let follow_again = tokio::spawn({
        let pool = pool.clone();
        async move { follows::follow(&pool, john, &name("susan")).await }
    });
    // Until the follow is blocked on the other tab's uncommitted delete (or, should it not
    // wait at all, has answered: the assertions below then judge that answer).
    while !follow_again.is_finished() && statements_waiting_for_locks(&pool).await == 0 {
        tokio::task::yield_now().await;
    }
    other_tab.commit().await.unwrap();

    let state = follow_again.await.unwrap().unwrap();
    assert!(state.following);
    assert_eq!(state.followers_count, 2, "john and mary follow susan");
    assert_eq!(counts(&pool, susan).await.followers, 2);
    assert!(users_with_wrong_counters(&pool).await.is_empty());
}

/// A follow as the user a session claims to be is made only while that session exists and has
/// not expired, checked by the statement that makes it.
#[sqlx::test(migrator = "app::db::MIGRATOR")]
async fn a_claimed_follow_is_made_only_while_its_session_lives(pool: PgPool) {
    let john = user(&pool, "john").await;
    user(&pool, "susan").await;
    let claim = SessionClaim {
        session: Id(7),
        user_id: john,
    };
    let session_ends_in = |seconds: i64| {
        let pool = pool.clone();
        async move {
            sqlx::query(
                "INSERT INTO sessions (id, user_id, data, expires_at)
                 VALUES ($1, $3, '{}', now() + make_interval(secs => $2))
                 ON CONFLICT (id) DO UPDATE SET expires_at = EXCLUDED.expires_at",
            )
            .bind(claim.session_key())
            .bind(seconds as f64)
            .bind(john.get())
            .execute(&pool)
            .await
            .unwrap();
        }
    };
    let refused = Err(AppError::sign_in_required());

    assert_eq!(
        follows::follow(&pool, &claim, &name("susan")).await,
        refused,
        "no such session"
    );
    session_ends_in(-1).await;
    assert_eq!(
        follows::follow(&pool, &claim, &name("susan")).await,
        refused,
        "expired"
    );
    assert_eq!(link_rows(&pool).await, 0);

    session_ends_in(60).await;
    let state = follows::follow(&pool, &claim, &name("susan"))
        .await
        .unwrap();
    assert!(state.following);
    assert_eq!(state.followers_count, 1);
    let state = follows::unfollow(&pool, &claim, &name("susan"))
        .await
        .unwrap();
    assert!(!state.following);
    assert_eq!(link_rows(&pool).await, 0);
    assert!(users_with_wrong_counters(&pool).await.is_empty());
}

#[test]
fn the_feed_walk_switches_at_one_thousand_follows_and_to_the_timeline_at_two() {
    assert_eq!(FeedWalk::for_following(0), FeedWalk::PerAuthor);
    assert_eq!(FeedWalk::for_following(999), FeedWalk::PerAuthor);
    assert_eq!(FeedWalk::for_following(1_000), FeedWalk::AllPostsHashed);
    assert_eq!(FeedWalk::for_following(1_999), FeedWalk::AllPostsHashed);
    assert_eq!(FeedWalk::for_following(2_000), FeedWalk::Timeline);
}

#[sqlx::test(migrator = "app::db::MIGRATOR")]
async fn unfollowing_someone_not_followed_changes_nothing(pool: PgPool) {
    let john = user(&pool, "john").await;
    let susan = user(&pool, "susan").await;
    user(&pool, "mary").await;
    follows::follow(&pool, susan, &name("mary")).await.unwrap();
    let state = follows::unfollow(&pool, john, &name("mary")).await.unwrap();
    assert!(!state.following);
    assert_eq!(state.followers_count, 1, "susan still follows mary");
    assert_eq!(link_rows(&pool).await, 1);
    assert!(users_with_wrong_counters(&pool).await.is_empty());
}

#[sqlx::test(migrator = "app::db::MIGRATOR")]
async fn nobody_can_follow_themselves_not_even_bypassing_the_application(pool: PgPool) {
    let john = user(&pool, "john").await;
    assert_eq!(
        follows::follow(&pool, john, &name("john")).await,
        Err(AppError::BadRequest("You cannot follow yourself!".into()))
    );
    assert_eq!(
        follows::unfollow(&pool, john, &name("john")).await,
        Err(AppError::BadRequest("You cannot unfollow yourself!".into()))
    );
    let raw = sqlx::query("INSERT INTO followers (follower_id, followed_id) VALUES ($1, $1)")
        .bind(john)
        .execute(&pool)
        .await
        .expect_err("the database refuses a self-follow");
    assert_eq!(
        raw.as_database_error().and_then(|e| e.constraint()),
        Some("user_cannot_follow_self")
    );
    assert_eq!(link_rows(&pool).await, 0);
}

#[sqlx::test(migrator = "app::db::MIGRATOR")]
async fn unknown_users_are_not_found(pool: PgPool) {
    let john = user(&pool, "john").await;
    let not_found: Result<(), AppError> = Err(AppError::NotFound("User ghost not found.".into()));
    assert_eq!(
        follows::follow(&pool, john, &name("ghost"))
            .await
            .map(|_| ()),
        not_found
    );
    assert_eq!(
        follows::unfollow(&pool, john, &name("ghost"))
            .await
            .map(|_| ()),
        not_found
    );
    assert_eq!(
        users::profile(&pool, Some(john), &name("ghost"))
            .await
            .map(|_| ()),
        not_found
    );
    assert_eq!(
        posts::user_posts(&pool, &name("ghost"), PageRequest::First, 20)
            .await
            .map(|_| ()),
        not_found
    );
    assert_eq!(
        follows::list(
            &pool,
            None,
            &name("ghost"),
            Direction::Followers,
            PageRequest::First,
            20
        )
        .await
        .map(|_| ()),
        not_found
    );
}

#[sqlx::test(migrator = "app::db::MIGRATOR")]
async fn deleting_a_user_removes_their_links_and_posts(pool: PgPool) {
    let john = user(&pool, "john").await;
    let susan = user(&pool, "susan").await;
    let mary = user(&pool, "mary").await;
    post_at(&pool, susan, "from susan", 1).await;
    follows::follow(&pool, john, &name("susan")).await.unwrap();
    follows::follow(&pool, susan, &name("mary")).await.unwrap();
    follows::follow(&pool, mary, &name("john")).await.unwrap();

    delete_user(&pool, susan).await;

    assert_eq!(link_rows(&pool).await, 1, "only mary → john is left");
    let posts_left: i64 = sqlx::query_scalar("SELECT count(*) FROM posts")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(posts_left, 0);
    assert!(
        users_with_wrong_counters(&pool).await.is_empty(),
        "counters follow the cascade"
    );
    assert_eq!(feed(&pool, john).await, Vec::<String>::new());
}

#[sqlx::test(migrator = "app::db::MIGRATOR")]
async fn two_hundred_concurrent_toggles_leave_counts_equal_to_the_rows(pool: PgPool) {
    let names = ["a", "b", "c", "d", "e"];
    let mut ids = Vec::new();
    for name in names {
        ids.push(user(&pool, name).await);
    }
    let mut tasks = Vec::new();
    for task in 0..200usize {
        let pool = pool.clone();
        let me = ids[task % ids.len()];
        // Every pair in both directions, so A→B and B→A race each other.
        let target = names[(task / ids.len() + 1 + task % ids.len()) % names.len()];
        tasks.push(tokio::spawn(async move {
            if task % 3 == 0 {
                follows::unfollow(&pool, me, &name(target)).await
            } else {
                follows::follow(&pool, me, &name(target)).await
            }
        }));
    }
    for task in futures::future::join_all(tasks).await {
        match task.unwrap() {
            Ok(_) => {}
            Err(AppError::BadRequest(message)) if message.contains("yourself") => {}
            Err(other) => panic!("a toggle failed: {other:?}"),
        }
    }
    assert!(users_with_wrong_counters(&pool).await.is_empty());
    let duplicates: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT 1 FROM followers GROUP BY follower_id, followed_id HAVING count(*) > 1) d",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(duplicates, 0);
}

#[sqlx::test(migrator = "app::db::MIGRATOR")]
async fn walking_every_page_of_a_feed_returns_each_post_once_in_order_despite_new_posts(
    pool: PgPool,
) {
    let me = user(&pool, "me").await;
    let mut authors = vec![me];
    for n in 0..10 {
        let author = format!("author{n}");
        authors.push(user(&pool, &author).await);
        follows::follow(&pool, me, &name(&author)).await.unwrap();
    }
    let stranger = user(&pool, "stranger").await;
    post_at(&pool, stranger, "not in my feed", 500).await;
    // 1,000 posts, with runs of equal timestamps so the id tie-break matters.
    let mut expected = Vec::new();
    for n in 0..1000i64 {
        let author = authors[(n % authors.len() as i64) as usize];
        expected.push(post_at(&pool, author, &format!("post {n}"), n / 3).await);
    }
    expected.reverse();

    // A timeline complete for the newer half, so its walk reads pages from it and walks the rest.
    sqlx::query(
        "SELECT r.start_timeline($1, timestamptz '2026-01-01 00:00:00+00' + interval '150 seconds')",
    )
    .bind(me.get())
    .execute(&pool)
    .await
    .unwrap();
    let per_author_walk = walk_every_page(&pool, me, &authors, FeedWalk::PerAuthor).await;
    assert_eq!(
        per_author_walk, expected,
        "exactly the 1,000 posts, newest first"
    );
    for walk in FeedWalk::ALL.into_iter().skip(1) {
        walk_every_page(&pool, me, &authors, walk).await;
    }
}

/// Walks a feed to its end by one of the feed's walks, checking it against a full sort
/// taken when the walk starts, then steps one page back up. Returns the ids seen.
async fn walk_every_page(
    pool: &PgPool,
    me: UserId,
    authors: &[UserId],
    walk: FeedWalk,
) -> Vec<i64> {
    let page_of = |request| posts::followed_posts_by(pool, me, walk, request);
    let expected: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM posts WHERE author_id = ANY($1) ORDER BY created_at DESC, id DESC",
    )
    .bind(
        authors
            .iter()
            .map(|author| author.get())
            .collect::<Vec<_>>(),
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut seen = Vec::new();
    let mut request = PageRequest::First;
    let mut pages = 0;
    loop {
        let page = page_of(request).await.unwrap();
        assert_eq!(
            page.newer.is_some(),
            pages > 0,
            "only the first page lacks a Newer link"
        );
        seen.extend(page.items.iter().map(|post| post.id));
        pages += 1;
        // Someone posts while the reader scrolls: it must not shift what the next page shows.
        post_newest(pool, authors[1], "posted while scrolling").await;
        match page.older {
            Some(cursor) => request = PageRequest::OlderThan(cursor),
            None => break,
        }
    }
    assert_eq!(pages, expected.len().div_ceil(20), "{walk:?}");
    assert_eq!(seen, expected, "{walk:?}");

    // "Newer posts" from the last page gives back the page before it.
    let last_page_start = (pages - 1) * 20;
    let last_page_first = seen[last_page_start];
    let previous = page_of(PageRequest::NewerThan(
        cursor_of(pool, last_page_first).await,
    ))
    .await
    .unwrap();
    assert_eq!(
        previous
            .items
            .iter()
            .map(|post| post.id)
            .collect::<Vec<_>>(),
        seen[last_page_start - 20..last_page_start].to_vec()
    );
    seen
}

#[sqlx::test(migrator = "app::db::MIGRATOR")]
async fn explore_and_profiles_list_posts_newest_first(pool: PgPool) {
    let john = user(&pool, "john").await;
    let susan = user(&pool, "susan").await;
    post_at(&pool, john, "john 1", 1).await;
    post_at(&pool, susan, "susan 2", 2).await;
    post_at(&pool, john, "john 3", 3).await;
    let explore = posts::explore(&pool, PageRequest::First).await.unwrap();
    assert_eq!(bodies(&explore.items), ["john 3", "susan 2", "john 1"]);
    let johns = posts::user_posts(&pool, &name("JOHN"), PageRequest::First, 20)
        .await
        .unwrap();
    assert_eq!(bodies(&johns.items), ["john 3", "john 1"]);
}

/// Each listed user with whether they carry "Follows you".
fn badges(users: &[app::model::UserSummary]) -> Vec<(&str, bool)> {
    users
        .iter()
        .map(|user| (user.username.as_str(), user.follows_me))
        .collect()
}

async fn suggested_to(pool: &PgPool, me: UserId) -> Vec<String> {
    app::db::suggestions::suggestions(pool, None, me, 5)
        .await
        .unwrap()
        .into_iter()
        .map(|user| user.username)
        .collect()
}

#[sqlx::test(migrator = "app::db::MIGRATOR")]
async fn who_to_follow_and_follows_you_in_the_canonical_scenario(pool: PgPool) {
    let john = user(&pool, "john").await;
    let susan = user(&pool, "susan").await;
    user(&pool, "mary").await;
    user(&pool, "david").await;
    follows::follow(&pool, john, &name("susan")).await.unwrap();
    follows::follow(&pool, john, &name("david")).await.unwrap();
    follows::follow(&pool, susan, &name("mary")).await.unwrap();

    // susan follows mary, so mary comes first for john: ahead of anyone merely popular.
    let for_john = suggested_to(&pool, john).await;
    assert_eq!(for_john.first().map(String::as_str), Some("mary"));
    for never in ["john", "susan", "david"] {
        assert!(
            !for_john.iter().any(|n| n == never),
            "{never}: {for_john:?}"
        );
    }
    follows::follow(&pool, john, &name("mary")).await.unwrap();
    assert!(
        !suggested_to(&pool, john).await.iter().any(|n| n == "mary"),
        "followed, so no longer suggested"
    );

    // "Follows you" on john's profile, as susan sees it, only once john follows her.
    let john_name = name("john");
    let johns_profile = async || {
        users::profile(&pool, Some(susan), &john_name)
            .await
            .map(|read| read.profile)
    };
    assert!(
        johns_profile().await.unwrap().follows_me,
        "john follows susan"
    );
    follows::unfollow(&pool, john, &name("susan"))
        .await
        .unwrap();
    assert!(!johns_profile().await.unwrap().follows_me);
    follows::follow(&pool, john, &name("susan")).await.unwrap();
    assert!(johns_profile().await.unwrap().follows_me);
    // And beside john in susan's list of followers.
    let followers = follows::list(
        &pool,
        Some(susan),
        &name("susan"),
        Direction::Followers,
        PageRequest::First,
        20,
    )
    .await
    .unwrap();
    assert_eq!(badges(&followers.items), [("john", true)]);
    // Someone susan follows who does not follow her back has no badge.
    let following = follows::list(
        &pool,
        Some(susan),
        &name("susan"),
        Direction::Following,
        PageRequest::First,
        20,
    )
    .await
    .unwrap();
    assert_eq!(badges(&following.items), [("mary", false)]);
}

#[sqlx::test(migrator = "app::db::MIGRATOR")]
async fn someone_who_follows_nobody_is_offered_the_most_followed(pool: PgPool) {
    let newcomer = user(&pool, "newcomer").await;
    let star = user(&pool, "star").await;
    let known = user(&pool, "known").await;
    user(&pool, "silent").await;
    for (n, fan) in ["fan1", "fan2", "fan3"].into_iter().enumerate() {
        let fan = user(&pool, fan).await;
        post_at(&pool, fan, "hello", n as i64).await;
        follows::follow(&pool, fan, &name("silent")).await.unwrap();
        follows::follow(&pool, fan, &name("star")).await.unwrap();
        if n < 2 {
            follows::follow(&pool, fan, &name("known")).await.unwrap();
        }
    }
    post_at(&pool, star, "shining", 10).await;
    post_at(&pool, known, "here", 11).await;
    let offered = suggested_to(&pool, newcomer).await;
    assert_eq!(offered.len(), 5, "every recent author: {offered:?}");
    assert_eq!(offered[..2], ["star", "known"], "most followed first");
    assert!(
        !offered.iter().any(|n| n == "silent" || n == "newcomer"),
        "the most followed of all never posted, so is not recently active: {offered:?}"
    );
}

#[sqlx::test(migrator = "app::db::MIGRATOR")]
async fn a_kept_ranking_never_shows_someone_already_followed(pool: PgPool) {
    let john = user(&pool, "john").await;
    let susan = user(&pool, "susan").await;
    for name_ in ["mary", "david", "eve"] {
        user(&pool, name_).await;
        follows::follow(&pool, susan, &name(name_)).await.unwrap();
    }
    follows::follow(&pool, john, &name("susan")).await.unwrap();
    let first = suggested_to(&pool, john).await;
    assert!(first.iter().any(|n| n == "mary"), "{first:?}");

    // One unfollow and one follow: john follows as many as before, so the kept ranking is
    // reused, and mary, followed now, is dropped from it.
    follows::unfollow(&pool, john, &name("susan"))
        .await
        .unwrap();
    follows::follow(&pool, john, &name("mary")).await.unwrap();
    let second = suggested_to(&pool, john).await;
    let first_without_mary: Vec<String> = first.into_iter().filter(|n| n != "mary").collect();
    assert_eq!(second, first_without_mary);
}

#[sqlx::test(migrator = "app::db::MIGRATOR")]
async fn a_kept_ranking_of_people_all_followed_by_now_leaves_the_box_empty_without_ranking_again(
    pool: PgPool,
) {
    let john = user(&pool, "john").await;
    let susan = user(&pool, "susan").await;
    user(&pool, "mary").await;
    follows::follow(&pool, susan, &name("mary")).await.unwrap();
    follows::follow(&pool, john, &name("susan")).await.unwrap();
    assert_eq!(suggested_to(&pool, john).await, ["mary"]);
    let ranked_at = || {
        sqlx::query_scalar::<_, String>(
            "SELECT computed_at::text FROM suggestions WHERE user_id = $1",
        )
        .bind(john.get())
        .fetch_one(&pool)
    };
    let first_ranking = ranked_at().await.unwrap();

    // As many follows as when it was ranked, so the ranking is kept; mary, all it holds, is
    // followed now.
    follows::unfollow(&pool, john, &name("susan"))
        .await
        .unwrap();
    follows::follow(&pool, john, &name("mary")).await.unwrap();
    assert!(suggested_to(&pool, john).await.is_empty());
    assert_eq!(
        ranked_at().await.unwrap(),
        first_ranking,
        "not ranked again"
    );
}
