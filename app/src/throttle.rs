//! Limits on password guessing and sign-in floods (server only), with `governor`.
//!
//! Every sign-in and registration costs an Argon2 computation (12 MiB, tens of milliseconds),
//! so both count against the client's address; sign-ins also count against the account they
//! name, so guessing one person's password from many addresses is limited too. Over a limit the
//! answer is a 429 that says how long to wait, before any password is checked.
//!
//! The address is the TCP peer. Behind a reverse proxy that would be the proxy's, and the
//! per-address limit would become one limit for everybody: such a set-up must raise it, or
//! the server must learn to read the proxy's forwarded-for header from trusted proxies only.

use crate::error::AppError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, NotUntil, Quota};
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;

/// How many attempts are allowed, as a burst and as a steady rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleSettings {
    /// Sign-ins plus registrations from one address per minute (also the burst).
    pub per_address_per_minute: u32,
    /// Sign-ins naming one account in a burst; after it, one more every
    /// `account_refill_seconds`.
    pub per_account_burst: u32,
    pub account_refill_seconds: u32,
}

impl Default for ThrottleSettings {
    /// A person who mistypes their password a few times is never stopped; a guesser gets ten
    /// tries, then one every two minutes (720 a day instead of millions).
    fn default() -> Self {
        ThrottleSettings {
            per_address_per_minute: 30,
            per_account_burst: 10,
            account_refill_seconds: 120,
        }
    }
}

pub struct SignInThrottle {
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    per_account: DefaultKeyedRateLimiter<String>,
}

/// Keys not seen for a while are dropped once the maps hold this many, so a flood from many
/// addresses or usernames cannot grow memory without bound (each key is a few dozen bytes).
const FORGET_STALE_KEYS_ABOVE: usize = 50_000;

impl SignInThrottle {
    pub fn new(settings: ThrottleSettings) -> Self {
        let at_least_one = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        let per_address = Quota::per_minute(at_least_one(settings.per_address_per_minute));
        let per_account = Quota::with_period(std::time::Duration::from_secs(u64::from(
            settings.account_refill_seconds.max(1),
        )))
        .expect("the period is at least a second")
        .allow_burst(at_least_one(settings.per_account_burst));
        SignInThrottle {
            per_address: DefaultKeyedRateLimiter::keyed(per_address),
            per_account: DefaultKeyedRateLimiter::keyed(per_account),
        }
    }

    /// Counts an attempt (sign-in or registration) from `address`.
    pub fn attempt_from(&self, address: Option<IpAddr>) -> Result<(), AppError> {
        let key = address.map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), network_of);
        self.forget_stale_keys();
        self.per_address
            .check_key(&key)
            .map_err(|not_until| self.too_many(not_until))
    }

    /// Counts a sign-in naming `username`. A name no account can have has no password to guess
    /// and is not kept.
    pub fn attempt_on_account(&self, username: &str) -> Result<(), AppError> {
        if !crate::domain::could_be_username(username) {
            return Ok(());
        }
        self.per_account
            .check_key(&username.to_ascii_lowercase())
            .map_err(|not_until| self.too_many(not_until))
    }

    fn too_many(&self, not_until: NotUntil<<DefaultClock as Clock>::Instant>) -> AppError {
        let wait = not_until.wait_time_from(self.per_address.clock().now());
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        AppError::TooManyRequests {
            message: format!(
                "Too many sign-in attempts. Please wait {seconds} second{} and try again.",
                if seconds == 1 { "" } else { "s" }
            ),
            retry_after_seconds: seconds.max(1),
        }
    }

    fn forget_stale_keys(&self) {
        if self.per_address.len() + self.per_account.len() > FORGET_STALE_KEYS_ABOVE {
            self.per_address.retain_recent();
            self.per_account.retain_recent();
            self.per_address.shrink_to_fit();
            self.per_account.shrink_to_fit();
        }
    }
}

/// One IPv6 host usually has a whole /64 to pick addresses from: count the /64.
fn network_of(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let segments = v6.segments();
                IpAddr::V6(Ipv6Addr::new(
                    segments[0],
                    segments[1],
                    segments[2],
                    segments[3],
                    0,
                    0,
                    0,
                    0,
                ))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> SignInThrottle {
        SignInThrottle::new(ThrottleSettings {
            per_address_per_minute: 3,
            per_account_burst: 2,
            account_refill_seconds: 3600,
        })
    }

    #[test]
    fn an_address_over_its_limit_is_told_how_long_to_wait() {
        let throttle = strict();
        let address = Some("203.0.113.7".parse().unwrap());
        for attempt in 1..=3 {
            assert_eq!(throttle.attempt_from(address), Ok(()), "attempt {attempt}");
        }
        match throttle.attempt_from(address) {
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
            throttle.attempt_from(Some("203.0.113.8".parse().unwrap())),
            Ok(()),
            "another address is not affected"
        );
    }

    #[test]
    fn an_account_is_limited_whatever_the_case_of_its_name() {
        let throttle = strict();
        assert_eq!(throttle.attempt_on_account("Susan"), Ok(()));
        assert_eq!(throttle.attempt_on_account("susan"), Ok(()));
        assert!(throttle.attempt_on_account("SUSAN").is_err());
        assert_eq!(throttle.attempt_on_account("john"), Ok(()));
    }

    #[test]
    fn addresses_in_one_ipv6_64_share_a_limit() {
        let throttle = strict();
        for host in 1..=3 {
            let address = format!("2001:db8:1:2::{host}").parse().unwrap();
            assert_eq!(throttle.attempt_from(Some(address)), Ok(()));
        }
        assert!(
            throttle
                .attempt_from(Some("2001:db8:1:2:ffff::9".parse().unwrap()))
                .is_err()
        );
    }
}
