//! Limits on password guessing and sign-in floods (server only), counted for the whole site.
//!
//! Every sign-in and registration costs an Argon2 computation (12 MiB, tens of milliseconds),
//! so both count against the client's address; sign-ins also count against the account they
//! name, so guessing one person's password from many addresses is limited too. Over a limit the
//! answer is a 429 that says how long to wait, before any password is checked.
//!
//! The address is the TCP peer. Behind a reverse proxy that would be the proxy's, and the
//! per-address limit would become one limit for everybody: such a set-up must raise it, or
//! the server must learn to read the proxy's forwarded-for header from trusted proxies only.

use crate::db::limits::{self, Quota};
use crate::error::AppError;
use sqlx::PgPool;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

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

/// The sign-in limits, counted in PostgreSQL (`db::limits`) so that every server process
/// counts the same attempts: N processes must not allow N times the guesses.
#[derive(Debug, Clone, Copy)]
pub struct SignInThrottle {
    per_address: Quota,
    per_account: Quota,
}

impl SignInThrottle {
    pub fn new(settings: ThrottleSettings) -> Self {
        SignInThrottle {
            per_address: Quota::per(settings.per_address_per_minute, Duration::from_secs(60)),
            per_account: Quota {
                burst: settings.per_account_burst,
                per_use: Duration::from_secs(u64::from(settings.account_refill_seconds.max(1))),
            },
        }
    }

    /// Counts an attempt (sign-in or registration) from `address`.
    pub async fn attempt_from(
        &self,
        pool: &PgPool,
        address: Option<IpAddr>,
    ) -> Result<(), AppError> {
        let network = address.map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), network_of);
        check(pool, &format!("sign_ins_from:{network}"), self.per_address).await
    }

    /// Counts a sign-in naming `username`, whatever its case. A name no account can have has
    /// no password to guess and is not counted.
    pub async fn attempt_on_account(&self, pool: &PgPool, username: &str) -> Result<(), AppError> {
        if !crate::domain::could_be_username(username) {
            return Ok(());
        }
        let key = format!("sign_ins_as:{}", username.to_lowercase());
        check(pool, &key, self.per_account).await
    }
}

async fn check(pool: &PgPool, key: &str, quota: Quota) -> Result<(), AppError> {
    // A bucket counts against one quota: processes started with other settings (a test's, or
    // during a change of settings) keep buckets of their own rather than misread these.
    let key = format!("{key}/{}x{}us", quota.burst, quota.per_use.as_micros());
    match limits::take(pool, &key, quota).await? {
        None => Ok(()),
        Some(wait) => {
            let seconds = limits::seconds_to_wait(wait);
            Err(AppError::TooManyRequests {
                message: format!(
                    "Too many sign-in attempts. Please wait {seconds} second{} and try again.",
                    if seconds == 1 { "" } else { "s" }
                ),
                retry_after_seconds: seconds,
            })
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

    #[test]
    fn addresses_in_one_ipv6_64_count_as_one_network() {
        let network = |text: &str| network_of(text.parse().unwrap());
        assert_eq!(network("2001:db8:1:2::1"), network("2001:db8:1:2:ffff::9"));
        assert_ne!(network("2001:db8:1:2::1"), network("2001:db8:1:3::1"));
        assert_eq!(network("::ffff:203.0.113.7"), network("203.0.113.7"));
        assert_ne!(network("203.0.113.7"), network("203.0.113.8"));
    }
}
