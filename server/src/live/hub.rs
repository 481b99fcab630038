//! This process's open live streams (`Hub`): who listens for what, and the one listening
//! connection that feeds them.

use super::*;

/// Events a stream may hold for a client that is not reading before it is told to refresh.
pub(super) const STREAM_BUFFER: usize = 64;
/// Posts a stream that was away looks up at most; a client further behind refreshes.
pub(super) const CATCH_UP_LIMIT: i64 = 100;

#[derive(Debug, Clone, Copy)]
pub struct LiveLimits {
    /// Open streams per signed-in person (tabs and devices), on all processes together: each
    /// stream holds a lease in `live_streams` that its process renews.
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
pub(super) enum Signal {
    Post(NewPost),
    /// The listener was cut off: notifications may have been missed.
    CatchUp,
    SignedOut,
}

pub(super) struct Subscriber {
    pub(super) reader: UserId,
    pub(super) follows: HashSet<UserId>,
    /// While whom the reader follows is being read from the database: the follow changes
    /// announced meanwhile, applied on top of what the read finds (`replace_follows`), since
    /// the read may or may not have seen them.
    pub(super) reloading: Option<Vec<(UserId, bool)>>,
    /// The stream's row in `live_streams`.
    pub(super) lease: i64,
    pub(super) signals: mpsc::Sender<Signal>,
    pub(super) overflowed: Arc<AtomicBool>,
}

#[derive(Default)]
pub(super) struct Registry {
    pub(super) next_id: u64,
    pub(super) streams: HashMap<u64, Subscriber>,
    pub(super) by_author: HashMap<UserId, HashSet<u64>>,
    pub(super) by_reader: HashMap<UserId, HashSet<u64>>,
    /// Leases of streams that ended, not yet deleted from the database.
    pub(super) closed_leases: Vec<i64>,
}

impl Registry {
    pub(super) fn send(&self, stream: u64, signal: Signal) {
        if let Some(subscriber) = self.streams.get(&stream)
            && subscriber.signals.try_send(signal).is_err()
        {
            subscriber.overflowed.store(true, Ordering::Release);
        }
    }

    pub(super) fn dispatch(&mut self, notice: Notice) {
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

    pub(super) fn change_follow(&mut self, follower: UserId, followed: UserId, following: bool) {
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
            if let Some(changes) = &mut subscriber.reloading {
                changes.push((followed, following));
            }
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

pub(super) fn add_to(index: &mut HashMap<UserId, HashSet<u64>>, key: UserId, stream: u64) {
    index.entry(key).or_default().insert(stream);
}

pub(super) fn remove_from(index: &mut HashMap<UserId, HashSet<u64>>, key: UserId, stream: u64) {
    if let Some(streams) = index.get_mut(&key) {
        streams.remove(&stream);
        if streams.is_empty() {
            index.remove(&key);
        }
    }
}

/// This process's open streams and the listener that feeds them.
pub struct Hub {
    pub(super) registry: Mutex<Registry>,
    pub(super) limits: LiveLimits,
}

impl Hub {
    /// Starts the process's listener; it runs for the life of the process.
    pub fn start(pool: sqlx::PgPool, limits: LiveLimits) -> Arc<Hub> {
        let hub = Arc::new(Hub {
            registry: Mutex::default(),
            limits,
        });
        let (listening, renewing) = (hub.clone(), hub.clone());
        tokio::spawn(async move {
            // Until the pool is closed: a test's database can then be dropped.
            tokio::select! {
                () = pool.close_event() => {}
                () = listening.listen(pool.clone()) => {}
                () = renewing.renew_leases(pool.clone()) => {}
            }
        });
        hub
    }

    /// Keeps the leases of this process's streams alive, and deletes those of ended ones.
    pub(super) async fn renew_leases(&self, pool: sqlx::PgPool) {
        let mut ticks = tokio::time::interval(live::STREAM_LEASE / 3);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let (open, closed) = {
                let mut registry = self.registry();
                let open: Vec<i64> = registry.streams.values().map(|s| s.lease).collect();
                (open, std::mem::take(&mut registry.closed_leases))
            };
            if let Err(error) = live::renew_streams(&pool, &open, &closed).await {
                tracing::warn!(%error, "live feed: renewing stream leases failed");
                self.give_back_closed(closed);
            }
        }
    }

    pub(super) fn take_closed(&self) -> Vec<i64> {
        std::mem::take(&mut self.registry().closed_leases)
    }

    pub(super) fn give_back_closed(&self, closed: Vec<i64>) {
        self.registry().closed_leases.extend(closed);
    }

    pub(super) fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) async fn listen(self: Arc<Self>, pool: sqlx::PgPool) {
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

    pub(super) fn broadcast(&self, signal: Signal) {
        let registry = self.registry();
        for &stream in registry.streams.keys() {
            registry.send(stream, signal.clone());
        }
    }

    /// Registers a stream for `reader` holding `lease`, or says why not. From here on the
    /// stream hears the reader's sign-outs and follow changes; whom they follow is read next
    /// (`begin_reload` has begun), so no change made while the stream opens is lost.
    pub(super) fn subscribe(
        self: &Arc<Self>,
        reader: UserId,
        lease: i64,
    ) -> Result<Subscription, Refusal> {
        let mut registry = self.registry();
        if registry.streams.len() >= self.limits.per_process {
            registry.closed_leases.push(lease);
            return Err(Refusal::ProcessFull);
        }
        let id = registry.next_id;
        registry.next_id += 1;
        let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
        let overflowed = Arc::new(AtomicBool::new(false));
        add_to(&mut registry.by_reader, reader, id);
        registry.streams.insert(
            id,
            Subscriber {
                reader,
                follows: HashSet::new(),
                reloading: Some(Vec::new()),
                lease,
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

    /// Starts noting the follow changes announced to stream `id`, before whom its reader
    /// follows is read again (see `replace_follows`).
    pub(super) fn begin_reload(&self, id: u64) {
        if let Some(subscriber) = self.registry().streams.get_mut(&id) {
            subscriber.reloading.get_or_insert_with(Vec::new);
        }
    }

    /// Replaces whom stream `id` hears from with `follows`, read after `begin_reload`, and the
    /// changes announced since then on top: after the listener was cut off, follow changes
    /// made meanwhile were never announced, and while a stream opens they may have been
    /// announced before or after the read saw them.
    pub(super) fn replace_follows(&self, id: u64, mut follows: HashSet<UserId>) {
        let mut guard = self.registry();
        let registry = &mut *guard;
        let Some(subscriber) = registry.streams.get_mut(&id) else {
            return;
        };
        for (followed, following) in subscriber.reloading.take().unwrap_or_default() {
            if following {
                follows.insert(followed);
            } else {
                follows.remove(&followed);
            }
        }
        for author in std::mem::take(&mut subscriber.follows) {
            remove_from(&mut registry.by_author, author, id);
        }
        for &author in &follows {
            add_to(&mut registry.by_author, author, id);
        }
        subscriber.follows = follows;
    }

    pub(super) fn unsubscribe(&self, id: u64) {
        let mut registry = self.registry();
        if let Some(subscriber) = registry.streams.remove(&id) {
            for author in subscriber.follows {
                remove_from(&mut registry.by_author, author, id);
            }
            remove_from(&mut registry.by_reader, subscriber.reader, id);
            registry.closed_leases.push(subscriber.lease);
        }
        metrics::gauge!("microblog_live_streams").set(registry.streams.len() as f64);
    }
}

#[derive(Debug)]
pub(super) enum Refusal {
    ProcessFull,
}

/// A registered stream; dropping it (the client went away) unregisters it.
pub(super) struct Subscription {
    pub(super) hub: Arc<Hub>,
    pub(super) id: u64,
    pub(super) signals: mpsc::Receiver<Signal>,
    pub(super) overflowed: Arc<AtomicBool>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.unsubscribe(self.id);
    }
}
