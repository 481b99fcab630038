//! The live home feed: `GET /live/home` is a server-sent-event stream that announces each new
//! post by someone the signed-in reader follows, so their open home page can say "N new posts".
//!
//! One PostgreSQL connection per process listens (`app::db::live`); the `Hub` hands each
//! notification only to the streams it concerns, through a small bounded channel per stream:
//! a reader who follows the author, for a post; the follower's streams, for a follow change;
//! every stream of a person who signed out. A stream whose channel is full (a client that does
//! not read) is told to refresh and closed, so a stuck client holds at most `STREAM_BUFFER`
//! events. After the listener lost its connection (PostgreSQL restarted), every stream looks up
//! what it missed from its cursor, as a client that reconnects does with `Last-Event-ID`.

mod hub;

#[cfg(test)]
use hub::STREAM_BUFFER;
use hub::{CATCH_UP_LIMIT, Refusal, Signal, Subscription};
pub use hub::{Hub, LiveLimits};

use app::db::live::{self, NewPost, Notice};
use app::model::{Cursor, UserId};
use app::state::AppState;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tower_sessions::Session;

#[derive(Deserialize)]
pub struct LiveQuery {
    /// The newest post the page shows; `Last-Event-ID` takes its place on a reconnect.
    after: Option<String>,
}

/// `GET /live/home`: the signed-in reader's stream of new posts.
pub async fn home_stream(
    State(state): State<AppState>,
    Extension(hub): Extension<Arc<Hub>>,
    session: Session,
    headers: HeaderMap,
    Query(query): Query<LiveQuery>,
) -> Response {
    let (reader, session_key) = match app::auth::signed_in_user_id(&session).await {
        Ok(Some(reader)) => match session.id() {
            Some(id) => (reader, id.to_string()),
            None => return refuse(StatusCode::UNAUTHORIZED, "Please sign in to do that."),
        },
        Ok(None) => return refuse(StatusCode::UNAUTHORIZED, "Please sign in to do that."),
        Err(error) => return refuse(StatusCode::SERVICE_UNAVAILABLE, &error.to_string()),
    };
    let resume_from = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .or(query.after.as_deref())
        .filter(|text| !text.is_empty());
    let since = match resume_from.map(str::parse::<Cursor>) {
        Some(Ok(cursor)) => cursor,
        Some(Err(message)) => return refuse(StatusCode::BAD_REQUEST, &message),
        None => match live::now(&state.pool).await {
            Ok(now) => now,
            Err(error) => return refuse(StatusCode::SERVICE_UNAVAILABLE, &error.to_string()),
        },
    };
    let closed = hub.take_closed();
    let lease = match live::open_stream(&state.pool, reader, hub.limits.per_user, &closed).await {
        Ok(Some(lease)) => lease,
        Ok(None) => {
            return refuse(
                StatusCode::TOO_MANY_REQUESTS,
                "You have too many live feeds open; close a tab or two.",
            );
        }
        Err(error) => {
            hub.give_back_closed(closed);
            return refuse(StatusCode::SERVICE_UNAVAILABLE, &error.to_string());
        }
    };
    // Registered before anything is read, so that a sign-out or a follow change announced
    // while the stream opens reaches it; the first catch-up then reads whom the reader
    // follows, checks the session again and looks up what was missed.
    match hub.subscribe(reader, lease) {
        Ok(subscription) => {
            let stream = StreamState {
                subscription,
                pool: state.pool.clone(),
                reader,
                session_key,
                since,
                // Whatever was posted between the page and this stream, and whatever the
                // listener may not have heard yet while it starts.
                catch_up: true,
                reload_follows: true,
                announced: HashSet::new(),
                pending: VecDeque::new(),
                finished: false,
            };
            Sse::new(futures_util::stream::unfold(stream, next_event))
                .keep_alive(KeepAlive::new().interval(Duration::from_secs(20)))
                .into_response()
        }
        Err(Refusal::ProcessFull) => refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many live feeds are open on this server; new posts show when you reload.",
        ),
    }
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, message.to_owned()).into_response()
}

/// Post ids a stream remembers having announced, so a catch-up does not count one twice.
const ANNOUNCED_REMEMBERED: usize = 1_000;

struct StreamState {
    subscription: Subscription,
    pool: sqlx::PgPool,
    reader: UserId,
    /// The session the stream was opened with (`db::sessions`).
    session_key: String,
    /// The newest post announced (or shown on the page, or the stream's start): where a
    /// catch-up starts.
    since: Cursor,
    catch_up: bool,
    /// Whom the reader follows must be read, and the session checked, first: the stream is
    /// opening, or the listener was cut off and may have missed changes and sign-outs.
    reload_follows: bool,
    announced: HashSet<i64>,
    pending: VecDeque<Event>,
    finished: bool,
}

impl StreamState {
    fn announce(&mut self, post: NewPost) {
        if post.author == self.reader || !self.announced.insert(post.cursor.id) {
            return;
        }
        if self.announced.len() > ANNOUNCED_REMEMBERED {
            self.announced.clear();
        }
        if position(post.cursor) > position(self.since) {
            self.since = post.cursor;
        }
        // The id is the stream's resume point: the newest post announced so far.
        self.pending.push_back(
            Event::default()
                .event("post")
                .id(self.since.to_string())
                .data(format!("{} {}", post.cursor.id, post.author_name)),
        );
    }

    /// The client must load its feed afresh: it missed more than a stream can tell.
    fn refresh(&mut self) {
        self.pending
            .push_back(Event::default().event("refresh").data(""));
        self.finished = true;
    }

    async fn catch_up(&mut self) {
        if self.reload_follows {
            let subscription = &self.subscription;
            subscription.hub.begin_reload(subscription.id);
            match live::followed_ids(&self.pool, self.reader).await {
                Ok(follows) => {
                    self.reload_follows = false;
                    subscription.hub.replace_follows(subscription.id, follows);
                }
                Err(error) => tracing::warn!(%error, "live feed: reading follows again failed"),
            }
            match app::db::sessions::is_signed_in(&self.pool, &self.session_key, self.reader).await
            {
                Ok(true) => {}
                Ok(false) => {
                    self.finished = true;
                    return;
                }
                // The database is away: the listener's reconnection will ask again.
                Err(error) => tracing::warn!(%error, "live feed: checking the session failed"),
            }
        }
        let since = self.since;
        match live::followed_posts_since(&self.pool, self.reader, since, CATCH_UP_LIMIT).await {
            Ok(posts) if posts.len() < CATCH_UP_LIMIT as usize => {
                for post in posts {
                    self.announce(post);
                }
            }
            Ok(_) => self.refresh(),
            // The database is away: the listener's reconnection will ask again.
            Err(error) => tracing::warn!(%error, "live feed: catching up failed"),
        }
    }
}

fn position(cursor: Cursor) -> (i64, i64) {
    (cursor.micros, cursor.id)
}

/// The events of one stream: "post" (data: the post's id) for each new post by someone the
/// reader follows, and once "refresh" when the stream cannot go on (the client fell too far
/// behind); the stream ends when the reader signs out.
async fn next_event(mut state: StreamState) -> Option<(Result<Event, Infallible>, StreamState)> {
    loop {
        if let Some(event) = state.pending.pop_front() {
            return Some((Ok(event), state));
        }
        if state.finished {
            return None;
        }
        if state.subscription.overflowed.load(Ordering::Acquire) {
            state.refresh();
            continue;
        }
        if state.catch_up {
            state.catch_up = false;
            state.catch_up().await;
            continue;
        }
        match state.subscription.signals.recv().await {
            Some(Signal::Post(post)) => state.announce(post),
            Some(Signal::CatchUp) => {
                state.catch_up = true;
                state.reload_follows = true;
            }
            Some(Signal::SignedOut) | None => state.finished = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub() -> Arc<Hub> {
        Arc::new(Hub {
            registry: Mutex::default(),
            limits: LiveLimits {
                per_user: 2,
                per_process: 3,
            },
        })
    }

    /// A stream for `reader` that has read whom they follow.
    fn following(hub: &Arc<Hub>, reader: i64, follows: &[i64]) -> Subscription {
        let subscription = hub.subscribe(UserId::new(reader), reader).unwrap();
        let follows = follows.iter().copied().map(UserId::new).collect();
        hub.replace_follows(subscription.id, follows);
        subscription
    }

    fn post(author: i64, id: i64) -> Notice {
        Notice::Posted(NewPost {
            author: UserId::new(author),
            author_name: format!("user{author}").into(),
            cursor: Cursor { micros: id, id },
        })
    }

    fn received(subscription: &mut Subscription) -> Vec<i64> {
        let mut ids = Vec::new();
        while let Ok(signal) = subscription.signals.try_recv() {
            if let Signal::Post(post) = signal {
                ids.push(post.cursor.id);
            }
        }
        ids
    }

    #[test]
    fn a_post_reaches_only_the_streams_of_its_authors_followers() {
        let hub = hub();
        let mut reader = following(&hub, 1, &[10, 11]);
        let mut other = following(&hub, 2, &[12]);
        hub.registry().dispatch(post(10, 100));
        hub.registry().dispatch(post(12, 101));
        hub.registry().dispatch(post(13, 102));
        assert_eq!(received(&mut reader), [100]);
        assert_eq!(received(&mut other), [101]);
    }

    #[test]
    fn follows_and_unfollows_change_the_stream_at_once() {
        let hub = hub();
        let mut reader = following(&hub, 1, &[]);
        let (follower, followed) = (UserId::new(1), UserId::new(20));
        hub.registry()
            .dispatch(Notice::Followed { follower, followed });
        hub.registry().dispatch(post(20, 200));
        hub.registry()
            .dispatch(Notice::Unfollowed { follower, followed });
        hub.registry().dispatch(post(20, 201));
        assert_eq!(received(&mut reader), [200]);
    }

    #[test]
    fn follows_read_again_after_an_outage_replace_the_old_ones() {
        let hub = hub();
        let mut reader = following(&hub, 1, &[10]);
        hub.replace_follows(reader.id, [UserId::new(11)].into_iter().collect());
        hub.registry().dispatch(post(10, 100));
        hub.registry().dispatch(post(11, 101));
        assert_eq!(received(&mut reader), [101]);
        drop(reader);
        assert!(hub.registry().by_author.is_empty(), "nothing left behind");
    }

    #[test]
    fn a_client_that_does_not_read_is_cut_off_not_buffered() {
        let hub = hub();
        let reader = following(&hub, 1, &[10]);
        for id in 0..(STREAM_BUFFER as i64 + 10) {
            hub.registry().dispatch(post(10, id));
        }
        assert!(reader.overflowed.load(Ordering::Acquire));
        assert_eq!(reader.signals.len(), STREAM_BUFFER);
    }

    #[test]
    fn streams_are_capped_per_process_and_their_leases_freed_when_dropped() {
        let hub = hub();
        let first = hub.subscribe(UserId::new(1), 101).unwrap();
        let _second = hub.subscribe(UserId::new(1), 102).unwrap();
        let _third = hub.subscribe(UserId::new(2), 103).unwrap();
        assert!(matches!(
            hub.subscribe(UserId::new(3), 104),
            Err(Refusal::ProcessFull)
        ));
        assert_eq!(
            hub.take_closed(),
            [104],
            "a refused stream's lease is let go"
        );
        drop(first);
        assert_eq!(hub.take_closed(), [101]);
        assert!(hub.subscribe(UserId::new(1), 105).is_ok());
    }

    #[test]
    fn a_follow_change_announced_while_follows_are_read_is_not_lost() {
        let hub = hub();
        let mut reader = hub.subscribe(UserId::new(1), 1).unwrap();
        let (follower, followed) = (UserId::new(1), UserId::new(20));
        // Announced after the stream registered, before the read of its follows finished,
        // which did not see it.
        hub.registry()
            .dispatch(Notice::Followed { follower, followed });
        hub.replace_follows(reader.id, HashSet::new());
        hub.registry().dispatch(post(20, 200));
        assert_eq!(received(&mut reader), [200]);
        // An unfollow the read did see, announced again afterwards, is not undone by the read.
        hub.begin_reload(reader.id);
        hub.registry()
            .dispatch(Notice::Unfollowed { follower, followed });
        hub.replace_follows(reader.id, [followed].into_iter().collect());
        hub.registry().dispatch(post(20, 201));
        assert_eq!(received(&mut reader), Vec::<i64>::new());
    }

    #[test]
    fn signing_out_ends_every_stream_of_that_person() {
        let hub = hub();
        let mut reader = following(&hub, 1, &[]);
        let mut other = following(&hub, 2, &[]);
        hub.registry().dispatch(Notice::SignedOut(UserId::new(1)));
        assert!(matches!(reader.signals.try_recv(), Ok(Signal::SignedOut)));
        assert!(other.signals.try_recv().is_err());
    }
}
