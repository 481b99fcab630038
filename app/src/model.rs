//! What the server sends to pages. Times arrive already formatted, so the server's render and
//! the browser's hydration always print the same text.

use crate::error::AppError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

pub const PAGE_SIZE: i64 = 20;
/// How many people the Who to follow box shows.
pub const SUGGESTIONS_SHOWN: i64 = 5;

/// The id of an account. Its own type, so a post id or a count can never be passed where a
/// user is meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type), sqlx(transparent))]
pub struct UserId(i64);

impl UserId {
    pub const fn new(id: i64) -> Self {
        UserId(id)
    }

    /// The number itself, for a query's bind parameter.
    pub const fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub id: UserId,
    pub username: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timestamp {
    /// "3 minutes ago"
    pub relative: String,
    /// RFC 3339, for `<time datetime>`.
    pub iso: String,
    /// "2026-11-29 14:03 UTC", shown on hover.
    pub exact: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostView {
    pub id: i64,
    /// Where the post sits in a feed: the live feed starts after the newest one on screen.
    pub cursor: Cursor,
    pub author: String,
    pub avatar_url: String,
    pub body: String,
    pub created: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    /// What a follow button sends, so it acts on this person whatever they are called later.
    pub id: UserId,
    pub username: String,
    pub avatar_url: String,
    pub about_me: Option<String>,
    /// Whether the signed-in reader follows this user; `None` when signed out or it is the reader.
    pub followed_by_me: Option<bool>,
    /// Whether this user follows the signed-in reader ("Follows you").
    pub follows_me: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub id: UserId,
    pub username: String,
    pub avatar_url: String,
    pub about_me: Option<String>,
    pub last_seen: Timestamp,
    pub followers_count: i64,
    pub following_count: i64,
    pub is_me: bool,
    pub followed_by_me: Option<bool>,
    /// Whether this user follows the signed-in reader ("Follows you").
    pub follows_me: bool,
}

/// Which side of a user's links a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// The users who follow them.
    Followers,
    /// The users they follow.
    Following,
}

/// A one-time outcome message ("You are following susan!").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    pub message: String,
    pub is_error: bool,
}

/// The outcome of follow/unfollow: the true state after the change, so the page can update
/// without asking again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowState {
    pub username: String,
    pub following: bool,
    pub followers_count: i64,
    pub following_count: i64,
}

impl FollowState {
    /// What the person is told after the change.
    pub fn message(&self) -> String {
        if self.following {
            format!("You are following {}!", self.username)
        } else {
            format!("You are not following {}.", self.username)
        }
    }
}

/// One page of a keyset-paginated list, with the cursors of its neighbours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub newer: Option<Cursor>,
    pub older: Option<Cursor>,
}

/// Times a cursor may name: years 1 to 9999. Every row was written at server time, so nothing
/// real lies outside, and PostgreSQL refuses timestamps far beyond it with an error that would
/// otherwise become a 500.
const CURSOR_MICROS: std::ops::RangeInclusive<i64> =
    -62_135_596_800_000_000..=253_402_300_799_999_999;

/// A position in a list ordered by (time, id): the time in microseconds since the epoch and
/// the id of the row there. In URLs it reads `1764400000000000_42`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub micros: i64,
    pub id: i64,
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.micros, self.id)
    }
}

impl FromStr for Cursor {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || "That page link is not valid.".to_string();
        let (micros, id) = text.split_once('_').ok_or_else(invalid)?;
        let micros: i64 = micros.parse().map_err(|_| invalid())?;
        let id: i64 = id.parse().map_err(|_| invalid())?;
        if id < 0 || !CURSOR_MICROS.contains(&micros) {
            return Err(invalid());
        }
        Ok(Cursor { micros, id })
    }
}

/// Which page of a list to show: the first, the one after (older than) a cursor, or the one
/// before (newer than) it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum PageRequest {
    #[default]
    First,
    OlderThan(Cursor),
    NewerThan(Cursor),
}

impl PageRequest {
    /// From the `before` / `after` query parameters of a page URL.
    /// A garbled cursor is the client's fault: 400 with a readable message.
    pub fn from_query(before: Option<&str>, after: Option<&str>) -> Result<Self, AppError> {
        let cursor = |text: &str| text.parse::<Cursor>().map_err(AppError::BadRequest);
        match (before, after) {
            (Some(before), _) if !before.is_empty() => Ok(PageRequest::OlderThan(cursor(before)?)),
            (_, Some(after)) if !after.is_empty() => Ok(PageRequest::NewerThan(cursor(after)?)),
            _ => Ok(PageRequest::First),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_survive_a_round_trip_through_a_url() {
        let cursor = Cursor {
            micros: 1_764_400_000_000_123,
            id: 42,
        };
        assert_eq!(cursor.to_string().parse::<Cursor>(), Ok(cursor));
    }

    #[test]
    fn garbage_cursors_are_refused_with_a_readable_message() {
        for garbage in [
            "",
            "abc",
            "1_",
            "_1",
            "1_-5",
            "1_2_3",
            "99999999999999999999_1",
            "1;drop table posts_1",
            "-300000000000000000_1",
            "9223372036854775807_1",
            "253402300800000000_1",
        ] {
            let error = garbage.parse::<Cursor>().unwrap_err();
            assert_eq!(error, "That page link is not valid.", "{garbage:?}");
        }
    }

    #[test]
    fn cursors_from_year_1_to_9999_are_accepted() {
        for micros in [-62_135_596_800_000_000_i64, 0, 253_402_300_799_999_999] {
            assert!(format!("{micros}_1").parse::<Cursor>().is_ok(), "{micros}");
        }
    }

    #[test]
    fn page_requests_come_from_before_or_after() {
        assert_eq!(PageRequest::from_query(None, None), Ok(PageRequest::First));
        assert_eq!(
            PageRequest::from_query(Some(""), None),
            Ok(PageRequest::First)
        );
        assert!(matches!(
            PageRequest::from_query(Some("5_1"), None),
            Ok(PageRequest::OlderThan(_))
        ));
        assert!(matches!(
            PageRequest::from_query(None, Some("5_1")),
            Ok(PageRequest::NewerThan(_))
        ));
        assert!(PageRequest::from_query(Some("x"), None).is_err());
    }
}
