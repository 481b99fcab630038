//! Turning database values into what pages show: avatar URLs and human times.

use crate::model::{Cursor, Page, PageRequest, PostView, Timestamp};
use time::macros::{datetime, format_description};
use time::{Duration, OffsetDateTime, UtcOffset};

pub use crate::avatars::avatar_url;

pub fn timestamp(at: OffsetDateTime, now: OffsetDateTime) -> Timestamp {
    let at = at.to_offset(UtcOffset::UTC);
    // A clock a little behind the database's must not turn "just now" into "in a second".
    let age = (now - at).max(Duration::ZERO).unsigned_abs();
    let iso = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    let exact = format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    Timestamp {
        relative: timeago::Formatter::new().convert(age),
        iso: at.format(iso).unwrap_or_default(),
        exact: at.format(exact).unwrap_or_default(),
    }
}

/// The moment a cursor stands at; `None` past the calendar's end.
fn cursor_time(cursor: Cursor) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(cursor.micros) * 1_000).ok()
}

/// When each post of a page was written, as its relative time counts from.
pub fn post_times(posts: &Page<PostView>) -> impl Iterator<Item = OffsetDateTime> + '_ {
    posts
        .items
        .iter()
        .filter_map(|post| cursor_time(post.cursor))
}

/// The earliest moment `timestamp(at, _).relative` may read differently than it does at `now`:
/// the next whole unit of the age in the unit the text counts in, or the age at which it starts
/// counting in the next unit, whichever comes first. Used for how long a rendered page may be
/// served again (server/src/page_cache/). Given a `now` earlier than the text's own, it
/// answers earlier too, never later.
pub fn relative_time_unchanged_until(at: OffsetDateTime, now: OffsetDateTime) -> OffsetDateTime {
    /// timeago's units, in seconds: a month is its 2,628,003 s and a year twelve of them.
    const UNITS: [i128; 7] = [1, 60, 3_600, 86_400, 604_800, 2_628_003, 31_536_036];
    const NANOS: i128 = 1_000_000_000;
    let age = (now - at).max(Duration::ZERO).whole_nanoseconds();
    let counted_in = UNITS
        .iter()
        .rposition(|unit| age >= unit * NANOS)
        .unwrap_or(0);
    let unit = UNITS[counted_in] * NANOS;
    let mut changes_at = (age / unit + 1) * unit;
    if let Some(next_unit) = UNITS.get(counted_in + 1) {
        changes_at = changes_at.min(next_unit * NANOS);
    }
    let wait = i64::try_from(changes_at - age).unwrap_or(i64::MAX);
    now + Duration::nanoseconds(wait)
}

pub fn cursor_of(at: OffsetDateTime, id: i64) -> Cursor {
    Cursor {
        micros: i64::try_from(at.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX),
        id,
    }
}

/// Which way a page query walks from its bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// Newest first, past rows older than the bound: the first page and every "older" page.
    TowardsOlder,
    /// Oldest first, past rows newer than the bound: a "newer" page, reversed before showing.
    TowardsNewer,
}

/// Where a page query starts: the (time, id) bound and the way it walks from there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageBound {
    pub at: OffsetDateTime,
    pub id: i64,
    pub walk: Walk,
}

impl PageBound {
    /// The first page starts after the newest possible row.
    pub fn of(request: PageRequest) -> Self {
        let far_future = datetime!(9999-01-01 0:00 UTC);
        let at = |cursor: Cursor| cursor_time(cursor).unwrap_or(far_future);
        let (at, id, walk) = match request {
            PageRequest::First => (far_future, i64::MAX, Walk::TowardsOlder),
            PageRequest::OlderThan(cursor) => (at(cursor), cursor.id, Walk::TowardsOlder),
            PageRequest::NewerThan(cursor) => (at(cursor), cursor.id, Walk::TowardsNewer),
        };
        PageBound { at, id, walk }
    }
}

/// Builds a page from rows fetched with `LIMIT page_size + 1` in walking order (newest first
/// for older pages, oldest first for newer pages): the extra row only tells whether there is
/// more in that direction.
pub fn into_page<Row, Item>(
    mut rows: Vec<Row>,
    request: PageRequest,
    page_size: i64,
    position: impl Fn(&Row) -> Cursor,
    present: impl Fn(Row) -> Item,
) -> Page<Item> {
    let page_size = usize::try_from(page_size).unwrap_or(usize::MAX);
    let more_in_walk_direction = rows.len() > page_size;
    rows.truncate(page_size);
    let walking_newer = matches!(request, PageRequest::NewerThan(_));
    if walking_newer {
        rows.reverse();
    }
    let newest = rows.first().map(&position);
    let oldest = rows.last().map(&position);
    let (newer, older) = match request {
        PageRequest::First => (None, oldest.filter(|_| more_in_walk_direction)),
        PageRequest::OlderThan(_) => (newest, oldest.filter(|_| more_in_walk_direction)),
        PageRequest::NewerThan(_) => (newest.filter(|_| more_in_walk_direction), oldest),
    };
    Page {
        items: rows.into_iter().map(present).collect(),
        newer,
        older,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relative_time_is_unchanged_until_its_text_would_change() {
        let now = datetime!(2026-12-01 12:00:00 UTC);
        let text_at = |moment: OffsetDateTime, at| timestamp(at, moment).relative;
        for age in [
            Duration::milliseconds(300),
            Duration::seconds(59),
            Duration::seconds(61),
            Duration::minutes(59) + Duration::seconds(30),
            Duration::hours(5) + Duration::minutes(7),
            Duration::days(6) + Duration::hours(23),
            Duration::days(29) + Duration::hours(5),
            Duration::days(400),
        ] {
            let at = now - age;
            let until = relative_time_unchanged_until(at, now);
            assert!(until > now, "{age}: some time is left");
            let just_before = until - Duration::milliseconds(1);
            assert_eq!(
                text_at(just_before, at),
                text_at(now, at),
                "{age}: same text until then"
            );
            assert_ne!(
                text_at(until + Duration::milliseconds(1), at),
                text_at(now, at),
                "{age}: it changes right after"
            );
        }
    }

    #[test]
    fn times_read_as_people_say_them() {
        let now = datetime!(2026-11-29 12:00 UTC);
        let three_minutes_ago = now - Duration::minutes(3);
        let shown = timestamp(three_minutes_ago, now);
        assert_eq!(shown.relative, "3 minutes ago");
        assert_eq!(shown.exact, "2026-11-29 11:57 UTC");
        assert_eq!(shown.iso, "2026-11-29T11:57:00Z");
    }

    #[test]
    fn a_row_from_the_future_reads_as_now() {
        let now = datetime!(2026-11-29 12:00 UTC);
        assert_eq!(timestamp(now + Duration::seconds(2), now).relative, "now");
    }

    #[test]
    fn older_pages_link_both_ways_only_when_there_is_more() {
        let rows: Vec<i64> = (0..21).rev().collect(); // 21 rows, newest first
        let cursor = |id: &i64| Cursor {
            micros: *id,
            id: *id,
        };
        let page = into_page(rows.clone(), PageRequest::First, 20, cursor, |id| id);
        assert_eq!(page.items.len(), 20);
        assert_eq!(page.newer, None);
        assert_eq!(page.older, Some(Cursor { micros: 1, id: 1 }));

        let last = into_page(
            vec![3, 2],
            PageRequest::OlderThan(cursor(&4)),
            20,
            cursor,
            |id| id,
        );
        assert_eq!(last.newer, Some(cursor(&3)));
        assert_eq!(last.older, None);
    }

    #[test]
    fn newer_pages_come_back_newest_first() {
        let cursor = |id: &i64| Cursor {
            micros: *id,
            id: *id,
        };
        let page = into_page(
            vec![5, 6, 7],
            PageRequest::NewerThan(cursor(&4)),
            2,
            cursor,
            |id| id,
        );
        assert_eq!(page.items, vec![6, 5]);
        assert_eq!(page.newer, Some(cursor(&6)));
        assert_eq!(page.older, Some(cursor(&5)));
    }
}
