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

/// Events a stream may hold for a client that is not reading before it is told to refresh.
const STREAM_BUFFER: usize = 64;
/// Posts a stream that was away looks up at most; a client further behind refreshes.
const CATCH_UP_LIMIT: i64 = 100;

#[derive(Debug, Clone, Copy)]
pub struct LiveLimits {
    /// Open streams per signed-in person on one process (tabs and devices).
    pub per_user: usize,
    /// Open streams on one process; each holds a connection, which `MICROBLOG_MAX_CONNECTIONS`
    /// bounds too, so pages keep room beside them.
    pub per_process: usize,
}

impl Default for LiveLimits {
    fn default() -> Self {
        LiveLimits {
            per_user: 5,
            per_process: 600,
        }
    }
}

/// What the hub sends a stream.
#[derive(Debug, Clone)]
enum Signal {
    Post(NewPost),
    /// The listener was cut off: notifications may have been missed.
    CatchUp,
    SignedOut,
}

struct Subscriber {
    reader: UserId,
    follows: HashSet<UserId>,
    signals: mpsc::Sender<Signal>,
    overflowed: Arc<AtomicBool>,
}

#[derive(Default)]
struct Registry {
    next_id: u64,
    streams: HashMap<u64, Subscriber>,
    by_author: HashMap<UserId, HashSet<u64>>,
    by_reader: HashMap<UserId, HashSet<u64>>,
}

impl Registry {
    fn send(&self, stream: u64, signal: Signal) {
        if let Some(subscriber) = self.streams.get(&stream)
            && subscriber.signals.try_send(signal).is_err()
        {
            subscriber.overflowed.store(true, Ordering::Release);
        }
    }

    fn dispatch(&mut self, notice: Notice) {
        match notice {
            Notice::Posted(post) => {
                for &stream in self.by_author.get(&post.author).into_iter().flatten() {
                    self.send(stream, Signal::Post(post.clone()));
                }
            }
            Notice::Followed { follower, followed } => {
                self.change_follow(follower, followed, true);
            }
            Notice::Unfollowed { follower, followed } => {
                self.change_follow(follower, followed, false);
            }
            Notice::SignedOut(reader) => {
                for &stream in self.by_reader.get(&reader).into_iter().flatten() {
                    self.send(stream, Signal::SignedOut);
                }
            }
        }
    }

    fn change_follow(&mut self, follower: UserId, followed: UserId, following: bool) {
        let streams: Vec<u64> = self
            .by_reader
            .get(&follower)
            .into_iter()
            .flatten()
            .copied()
            .collect();
        for stream in streams {
            let Some(subscriber) = self.streams.get_mut(&stream) else {
                continue;
            };
            if following {
                subscriber.follows.insert(followed);
                add_to(&mut self.by_author, followed, stream);
            } else {
                subscriber.follows.remove(&followed);
                remove_from(&mut self.by_author, followed, stream);
            }
        }
    }
}

fn add_to(index: &mut HashMap<UserId, HashSet<u64>>, key: UserId, stream: u64) {
    index.entry(key).or_default().insert(stream);
}

fn remove_from(index: &mut HashMap<UserId, HashSet<u64>>, key: UserId, stream: u64) {
    if let Some(streams) = index.get_mut(&key) {
        streams.remove(&stream);
        if streams.is_empty() {
            index.remove(&key);
        }
    }
}

/// This process's open streams and the listener that feeds them.
pub struct Hub {
    registry: Mutex<Registry>,
    limits: LiveLimits,
}

impl Hub {
    /// Starts the process's listener; it runs for the life of the process.
    pub fn start(pool: sqlx::PgPool, limits: LiveLimits) -> Arc<Hub> {
        let hub = Arc::new(Hub {
            registry: Mutex::default(),
            limits,
        });
        let listening = hub.clone();
        tokio::spawn(async move {
            // Until the pool is closed: a test's database can then be dropped.
            tokio::select! {
                () = pool.close_event() => {}
                () = listening.listen(pool.clone()) => {}
            }
        });
        hub
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn listen(self: Arc<Self>, pool: sqlx::PgPool) {
        loop {
            let mut listener = match live::listen(&pool).await {
                Ok(listener) => listener,
                Err(error) => {
                    tracing::warn!(%error, "live feed: cannot listen; trying again in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            // Whatever was sent while no one listened is gone: every stream looks up what it
            // missed, now that the database answers again (at start there are no streams).
            self.broadcast(Signal::CatchUp);
            loop {
                match listener.try_recv().await {
                    Ok(Some(notification)) => {
                        if let Some(notice) = live::parse(&notification) {
                            self.registry().dispatch(notice);
                        }
                    }
                    Ok(None) | Err(_) => {
                        tracing::warn!(
                            "live feed: the listening connection was lost; reconnecting"
                        );
                        break;
                    }
                }
            }
        }
    }

    fn broadcast(&self, signal: Signal) {
        let registry = self.registry();
        for &stream in registry.streams.keys() {
            registry.send(stream, signal.clone());
        }
    }

    /// Registers a stream for `reader`, or says why not.
    fn subscribe(
        self: &Arc<Self>,
        reader: UserId,
        follows: HashSet<UserId>,
    ) -> Result<Subscription, Refusal> {
        let mut registry = self.registry();
        if registry.streams.len() >= self.limits.per_process {
            return Err(Refusal::ProcessFull);
        }
        if registry.by_reader.get(&reader).map_or(0, HashSet::len) >= self.limits.per_user {
            return Err(Refusal::TooManyForUser);
        }
        let id = registry.next_id;
        registry.next_id += 1;
        let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
        let overflowed = Arc::new(AtomicBool::new(false));
        for &author in &follows {
            add_to(&mut registry.by_author, author, id);
        }
        add_to(&mut registry.by_reader, reader, id);
        registry.streams.insert(
            id,
            Subscriber {
                reader,
                follows,
                signals: sender,
                overflowed: overflowed.clone(),
            },
        );
        metrics::gauge!("microblog_live_streams").set(registry.streams.len() as f64);
        Ok(Subscription {
            hub: self.clone(),
            id,
            signals: receiver,
            overflowed,
        })
    }

    /// Replaces whom stream `id` hears from: after the listener was cut off, follow changes
    /// made meanwhile were never announced.
    fn replace_follows(&self, id: u64, follows: HashSet<UserId>) {
        let mut guard = self.registry();
        let registry = &mut *guard;
        let Some(subscriber) = registry.streams.get_mut(&id) else {
            return;
        };
        for author in std::mem::take(&mut subscriber.follows) {
            remove_from(&mut registry.by_author, author, id);
        }
        for &author in &follows {
            add_to(&mut registry.by_author, author, id);
        }
        subscriber.follows = follows;
    }

    fn unsubscribe(&self, id: u64) {
        let mut registry = self.registry();
        if let Some(subscriber) = registry.streams.remove(&id) {
            for author in subscriber.follows {
                remove_from(&mut registry.by_author, author, id);
            }
            remove_from(&mut registry.by_reader, subscriber.reader, id);
        }
        metrics::gauge!("microblog_live_streams").set(registry.streams.len() as f64);
    }
}

#[derive(Debug)]
enum Refusal {
    ProcessFull,
    TooManyForUser,
}

/// A registered stream; dropping it (the client went away) unregisters it.
struct Subscription {
    hub: Arc<Hub>,
    id: u64,
    signals: mpsc::Receiver<Signal>,
    overflowed: Arc<AtomicBool>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.unsubscribe(self.id);
    }
}

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
    let reader = match app::auth::signed_in_user_id(&session).await {
        Ok(Some(reader)) => reader,
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
    let follows = match live::followed_ids(&state.pool, reader).await {
        Ok(follows) => follows,
        Err(error) => return refuse(StatusCode::SERVICE_UNAVAILABLE, &error.to_string()),
    };
    // Registered before looking up what was missed, so nothing falls between the two.
    match hub.subscribe(reader, follows) {
        Ok(subscription) => {
            let stream = StreamState {
                subscription,
                pool: state.pool.clone(),
                reader,
                since,
                // Whatever was posted between the page and this stream, and whatever the
                // listener may not have heard yet while it starts.
                catch_up: true,
                reload_follows: false,
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
        Err(Refusal::TooManyForUser) => refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "You have too many live feeds open; close a tab or two.",
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
    /// The newest post announced (or shown on the page, or the stream's start): where a
    /// catch-up starts.
    since: Cursor,
    catch_up: bool,
    /// Whom the reader follows must be read again first (the listener was cut off).
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
            match live::followed_ids(&self.pool, self.reader).await {
                Ok(follows) => {
                    self.reload_follows = false;
                    let subscription = &self.subscription;
                    subscription.hub.replace_follows(subscription.id, follows);
                }
                Err(error) => tracing::warn!(%error, "live feed: reading follows again failed"),
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
        let follows = |ids: &[i64]| ids.iter().copied().map(UserId::new).collect();
        let mut reader = hub.subscribe(UserId::new(1), follows(&[10, 11])).unwrap();
        let mut other = hub.subscribe(UserId::new(2), follows(&[12])).unwrap();
        hub.registry().dispatch(post(10, 100));
        hub.registry().dispatch(post(12, 101));
        hub.registry().dispatch(post(13, 102));
        assert_eq!(received(&mut reader), [100]);
        assert_eq!(received(&mut other), [101]);
    }

    #[test]
    fn follows_and_unfollows_change_the_stream_at_once() {
        let hub = hub();
        let mut reader = hub.subscribe(UserId::new(1), HashSet::new()).unwrap();
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
        let mut reader = hub
            .subscribe(UserId::new(1), [UserId::new(10)].into_iter().collect())
            .unwrap();
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
        let reader = hub
            .subscribe(UserId::new(1), [UserId::new(10)].into_iter().collect())
            .unwrap();
        for id in 0..(STREAM_BUFFER as i64 + 10) {
            hub.registry().dispatch(post(10, id));
        }
        assert!(reader.overflowed.load(Ordering::Acquire));
        assert_eq!(reader.signals.len(), STREAM_BUFFER);
    }

    #[test]
    fn streams_are_capped_per_person_and_per_process_and_freed_when_dropped() {
        let hub = hub();
        let first = hub.subscribe(UserId::new(1), HashSet::new()).unwrap();
        let _second = hub.subscribe(UserId::new(1), HashSet::new()).unwrap();
        assert!(matches!(
            hub.subscribe(UserId::new(1), HashSet::new()),
            Err(Refusal::TooManyForUser)
        ));
        let _third = hub.subscribe(UserId::new(2), HashSet::new()).unwrap();
        assert!(matches!(
            hub.subscribe(UserId::new(3), HashSet::new()),
            Err(Refusal::ProcessFull)
        ));
        drop(first);
        assert!(hub.subscribe(UserId::new(1), HashSet::new()).is_ok());
    }

    #[test]
    fn signing_out_ends_every_stream_of_that_person() {
        let hub = hub();
        let mut reader = hub.subscribe(UserId::new(1), HashSet::new()).unwrap();
        let mut other = hub.subscribe(UserId::new(2), HashSet::new()).unwrap();
        hub.registry().dispatch(Notice::SignedOut(UserId::new(1)));
        assert!(matches!(reader.signals.try_recv(), Ok(Signal::SignedOut)));
        assert!(other.signals.try_recv().is_err());
    }
}
