//! Follows and unfollows made together in one statement (migration `follows_in_batches`), and
//! the queue that gathers them from concurrent requests (`db::follow_queue`), on a real
//! PostgreSQL.

mod common;

use app::auth::SessionClaim;
use app::db::follow_queue::{BatchTally, FollowQueue};
use app::db::follows::{self, Actor, FollowChange, FollowLimits};
use app::error::AppError;
use app::model::UserId;
use common::{
    counts, hold_user_row, is_following, link_rows, name, statements_waiting_for_locks, user,
    users_with_wrong_counters,
};
use sqlx::PgPool;
use tower_sessions::session::Id;

fn change(by: impl Into<Actor>, username: &str, follow: bool) -> FollowChange {
    FollowChange::new(by, &name(username), follow)
}

/// Waits until `what` holds; the minute's limit only turns a hang into a failure.
async fn until<F: Future<Output = bool>>(what: &str, mut holds: impl FnMut() -> F) {
    let started = std::time::Instant::now();
    while !holds().await {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "never: {what}"
        );
        tokio::task::yield_now().await;
    }
}

/// Waits until `waiting` statements wait for a lock: changes have reached the rows held.
async fn until_statements_wait_for_locks(pool: &PgPool, waiting: i64) {
    until("statements wait for locks", || async {
        statements_waiting_for_locks(pool).await >= waiting
    })
    .await;
}

#[sqlx::test(migrator = "app::db::MIGRATOR")]
async fn a_batch_answers_each_change_as_if_made_alone_at_its_place(pool: PgPool) {
    let john = user(&pool, "john").await;
    let mary = user(&pool, "mary").await;
    let susan = user(&pool, "susan").await;
    let david = user(&pool, "david").await;
    let ended = SessionClaim {
        session: Id(7),
        user_id: david,
    };

    let answers = follows::change_together(
        &pool,
        &[
            change(john, "susan", true),
            change(mary, "SUSAN", true),
            change(john, "ghost", true),
            change(john, "john", true),
            change(mary, "mary", false),
            change(&ended, "susan", true),
            change(david, "susan", false),
            change(john, "susan", false),
            change(john, "mary", true),
        ],
        FollowLimits::NONE,
    )
    .await
    .expect("the batch as a whole succeeds");

    let followers_of_susan: Vec<_> = answers
        .iter()
        .map(|answer| answer.clone().map(|state| state.followers_count))
        .collect();
    assert_eq!(
        followers_of_susan,
        vec![
            Ok(1),
            Ok(2),
            Err(AppError::NotFound("User ghost not found.".into())),
            Err(AppError::cannot_follow_self()),
            Err(AppError::cannot_unfollow_self()),
            Err(AppError::sign_in_required()),
            Ok(2),
            Ok(1),
            Ok(1),
        ],
        "each change answers with the counts as it left them"
    );
    assert_eq!(answers[1].as_ref().unwrap().username, "susan");
    assert!(!answers[7].as_ref().unwrap().following);
    assert_eq!(
        answers[8].as_ref().unwrap().following_count,
        1,
        "mary follows susan"
    );

    assert!(is_following(&pool, mary, susan).await);
    assert!(is_following(&pool, john, mary).await);
    assert!(!is_following(&pool, john, susan).await);
    assert!(!is_following(&pool, david, susan).await);
    assert_eq!(link_rows(&pool).await, 2);
    assert_eq!(counts(&pool, john).await.following, 1);
    assert!(users_with_wrong_counters(&pool).await.is_empty());
}

/// A change made alone takes its people's rows before it writes its link, as a batch does: had
/// it written the link first, a batch holding those rows and coming to the same link would wait
/// for it while it waited for them (PostgreSQL aborts one: a 500 for that click).
#[sqlx::test(migrator = "app::db::MIGRATOR")]
async fn a_change_alone_and_a_batch_on_the_same_link_wait_for_each_other_without_deadlock(
    pool: PgPool,
) {
    let john = user(&pool, "john").await;
    let susan = user(&pool, "susan").await;
    let david = user(&pool, "david").await;

    let holder = hold_user_row(&pool, david).await;
    // The batch takes john's and susan's rows, then waits for david's.
    let batch = tokio::spawn({
        let pool = pool.clone();
        async move {
            follows::change_together(
                &pool,
                &[change(john, "susan", true), change(john, "david", true)],
                FollowLimits::NONE,
            )
            .await
        }
    });
    until_statements_wait_for_locks(&pool, 1).await;
    // The same link as the batch's first change, alone, from another tab.
    let alone = tokio::spawn({
        let pool = pool.clone();
        async move { follows::follow(&pool, john, &name("susan")).await }
    });
    until_statements_wait_for_locks(&pool, 2).await;
    holder.commit().await.unwrap();

    for answer in batch.await.unwrap().expect("the batch is made") {
        answer.expect("each of its changes is made");
    }
    assert_eq!(alone.await.unwrap().unwrap().followers_count, 1);
    assert_eq!(counts(&pool, john).await.following, 2);
    assert!(is_following(&pool, john, susan).await);
    assert!(users_with_wrong_counters(&pool).await.is_empty());
}

/// A batch gathers what queued while the one before it ran; when it fails as a whole, its
/// changes are made one by one, so only the change at fault fails.
#[sqlx::test(migrator = "app::db::MIGRATOR")]
async fn the_queue_makes_what_waited_in_one_batch_and_one_by_one_when_that_fails(pool: PgPool) {
    let john = user(&pool, "john").await;
    let mary = user(&pool, "mary").await;
    let susan = user(&pool, "susan").await;
    let david = user(&pool, "david").await;
    let nobody = UserId::new(999_999);
    let queue = FollowQueue::start(pool.clone(), 1, FollowLimits::NONE);

    // The first change waits for susan's row, which another transaction holds.
    let holder = hold_user_row(&pool, susan).await;
    let first = tokio::spawn({
        let queue = queue.clone();
        async move { queue.follow(john, &name("susan")).await }
    });
    until_statements_wait_for_locks(&pool, 1).await;

    // These wait in the queue meanwhile; the one by a user who does not exist makes the
    // batch's statement fail (foreign key).
    let waiting: Vec<_> = [mary, nobody, john]
        .into_iter()
        .map(|by| {
            let queue = queue.clone();
            tokio::spawn(async move { queue.follow(by, &name("david")).await })
        })
        .collect();
    until("three changes wait in the queue", || async {
        queue.waiting() >= 3
    })
    .await;
    holder.commit().await.unwrap();

    assert_eq!(first.await.unwrap().unwrap().followers_count, 1);
    let mut answers: Vec<_> = futures::future::join_all(waiting)
        .await
        .into_iter()
        .map(|answer| answer.unwrap().map(|state| state.followers_count))
        .collect();
    assert_eq!(
        answers.remove(1),
        Err(AppError::Internal),
        "nobody's follow"
    );
    // Made one by one in the order they queued, which the spawned tasks may not keep.
    let mut followers: Vec<i64> = answers.into_iter().map(Result::unwrap).collect();
    followers.sort();
    assert_eq!(followers, vec![1, 2], "mary's and john's follows");
    assert_eq!(
        queue.tally(),
        BatchTally {
            batches: 2,
            changes: 4,
            largest: 3,
            failed_batches: 1,
        }
    );
    assert!(is_following(&pool, mary, david).await);
    assert!(is_following(&pool, john, david).await);
    assert_eq!(counts(&pool, david).await.followers, 2);
    assert!(users_with_wrong_counters(&pool).await.is_empty());
}

/// Batches that lock the same people in opposite orders wait for each other rather than
/// deadlock, and many changes at once through the queue leave every counter exact.
#[sqlx::test(migrator = "app::db::MIGRATOR")]
async fn batches_in_opposite_orders_and_a_crowd_through_the_queue_stay_exact(pool: PgPool) {
    let names = ["a", "b", "c", "d", "e", "f"];
    let mut ids = Vec::new();
    for name in names {
        ids.push(user(&pool, name).await);
    }

    for round in 0..20 {
        let forwards: Vec<_> = (0..names.len())
            .map(|i| change(ids[i], names[(i + 1) % names.len()], round % 2 == 0))
            .collect();
        let backwards: Vec<_> = forwards.iter().rev().cloned().collect();
        let (one, other) = tokio::join!(
            follows::change_together(&pool, &forwards, FollowLimits::NONE),
            follows::change_together(&pool, &backwards, FollowLimits::NONE)
        );
        for answer in one.unwrap().into_iter().chain(other.unwrap()) {
            answer.expect("every change is made");
        }
    }

    let queue = FollowQueue::start(pool.clone(), 2, FollowLimits::NONE);
    let mut tasks = Vec::new();
    for task in 0..300usize {
        let queue = queue.clone();
        let me = ids[task % ids.len()];
        let target = names[(task / ids.len() + 1 + task % ids.len()) % names.len()];
        tasks.push(tokio::spawn(async move {
            if task % 3 == 0 {
                queue.unfollow(me, &name(target)).await
            } else {
                queue.follow(me, &name(target)).await
            }
        }));
    }
    for task in futures::future::join_all(tasks).await {
        match task.unwrap() {
            Ok(_) => {}
            Err(AppError::BadRequest(message)) if message.contains("yourself") => {}
            Err(other) => panic!("a change failed: {other:?}"),
        }
    }
    let tally = queue.tally();
    assert_eq!(tally.changes, 300);
    assert_eq!(tally.failed_batches, 0);
    assert!(users_with_wrong_counters(&pool).await.is_empty());
}
