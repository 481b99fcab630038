//! The site-wide limits (`db::limits`, `throttle`) on a real PostgreSQL: what one process
//! counts, every process sees.

use app::error::AppError;
use app::throttle::{SignInThrottle, ThrottleSettings};
use sqlx::PgPool;

fn strict() -> SignInThrottle {
    SignInThrottle::new(ThrottleSettings {
        per_address_per_minute: 3,
        per_account_burst: 2,
        account_refill_seconds: 3600,
    })
}

#[sqlx::test(migrator = "app::db::MIGRATOR")]
async fn an_address_over_its_limit_is_told_how_long_to_wait(pool: PgPool) {
    let throttle = strict();
    let address = Some("203.0.113.7".parse().unwrap());
    for attempt in 1..=3 {
        assert_eq!(
            throttle.attempt_from(&pool, address).await,
            Ok(()),
            "attempt {attempt}"
        );
    }
    match throttle.attempt_from(&pool, address).await {
        Err(AppError::TooManyRequests {
            retry_after_seconds,
            message,
        }) => {
            assert!(
                (1..=20).contains(&retry_after_seconds),
                "{retry_after_seconds}"
            );
            assert!(message.contains("Please wait"), "{message}");
        }
        other => panic!("expected 429, got {other:?}"),
    }
    assert_eq!(
        throttle
            .attempt_from(&pool, Some("203.0.113.8".parse().unwrap()))
            .await,
        Ok(()),
        "another address is not affected"
    );
}

#[sqlx::test(migrator = "app::db::MIGRATOR")]
async fn an_account_is_limited_whatever_the_case_of_its_name(pool: PgPool) {
    let throttle = strict();
    assert_eq!(throttle.attempt_on_account(&pool, "Susan").await, Ok(()));
    assert_eq!(throttle.attempt_on_account(&pool, "susan").await, Ok(()));
    assert!(throttle.attempt_on_account(&pool, "SUSAN").await.is_err());
    assert_eq!(throttle.attempt_on_account(&pool, "john").await, Ok(()));
    // A name no account can have is not counted, so it cannot fill the table.
    for _ in 0..5 {
        assert_eq!(throttle.attempt_on_account(&pool, "<b>").await, Ok(()));
    }
}

#[sqlx::test(migrator = "app::db::MIGRATOR")]
async fn addresses_in_one_ipv6_64_share_a_limit(pool: PgPool) {
    let throttle = strict();
    for host in 1..=3 {
        let address = format!("2001:db8:1:2::{host}").parse().unwrap();
        assert_eq!(throttle.attempt_from(&pool, Some(address)).await, Ok(()));
    }
    assert!(
        throttle
            .attempt_from(&pool, Some("2001:db8:1:2:ffff::9".parse().unwrap()))
            .await
            .is_err()
    );
}

#[sqlx::test(migrator = "app::db::MIGRATOR")]
async fn a_limit_counts_exactly_when_many_take_it_at_once(pool: PgPool) {
    use app::db::limits::{self, Quota};
    let quota = Quota {
        burst: 10,
        per_use: std::time::Duration::from_secs(3600),
    };
    let attempts = (0..40).map(|_| {
        let pool = pool.clone();
        tokio::spawn(async move { limits::take(&pool, "race", quota).await.unwrap() })
    });
    let mut allowed = 0;
    for attempt in attempts {
        if attempt.await.unwrap().is_none() {
            allowed += 1;
        }
    }
    assert_eq!(
        allowed, 10,
        "exactly the burst, however the attempts interleave"
    );
    // Spent limits are swept; a full bucket is the same as none.
    app::db::sessions::sweep_expired(&pool).await.unwrap();
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM rate_limits")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(kept, 1, "a bucket still filling is kept");
}
