//! One source of truth per user per page. Every Follow button, follower count and hover card
//! for the same person reads and writes the same signals, so a follow from a hover card shows
//! on the profile's button and counts at once, and the other way round.

use crate::model::{FollowState, Profile};
use leptos::prelude::*;
use leptos_router::hooks::use_location;
use std::collections::HashMap;

/// What this page knows of one user. `None` until something on the page has said.
#[derive(Clone, Copy)]
pub struct KnownUser {
    pub followed_by_me: RwSignal<Option<bool>>,
    pub followers_count: RwSignal<Option<i64>>,
    pub following_count: RwSignal<Option<i64>>,
    /// The hover card's data, loaded at most once per page.
    pub card: RwSignal<Option<Profile>>,
    /// A follow or unfollow of this user is waiting for its answer: a hover card holding the
    /// button stays open until it comes, or the answer would be dropped with the card.
    pub follow_in_flight: RwSignal<bool>,
}

#[derive(Clone, Copy)]
pub struct KnownUsers {
    users: StoredValue<HashMap<String, KnownUser>>,
    /// Signals are created under the owner of the store, not of the component that first asks,
    /// so they outlive it.
    owner: StoredValue<Owner>,
}

impl KnownUsers {
    /// The entry for `username` (any case), created empty on first use.
    pub fn of(&self, username: &str) -> KnownUser {
        let key = username.to_lowercase();
        if let Some(known) = self.users.with_value(|users| users.get(&key).copied()) {
            return known;
        }
        let known = self.owner.with_value(|owner| {
            owner.with(|| KnownUser {
                followed_by_me: RwSignal::new(None),
                followers_count: RwSignal::new(None),
                following_count: RwSignal::new(None),
                card: RwSignal::new(None),
                follow_in_flight: RwSignal::new(false),
            })
        });
        self.users.update_value(|users| {
            users.insert(key, known);
        });
        known
    }

    /// The state after a follow or unfollow, from the server.
    pub fn record(&self, state: &FollowState) {
        let known = self.of(&state.username);
        set_if_changed(known.followed_by_me, Some(state.following));
        set_if_changed(known.followers_count, Some(state.followers_count));
        set_if_changed(known.following_count, Some(state.following_count));
        // A card opened again later starts from what the page knows now.
        known.card.update(|card| {
            if let Some(card) = card {
                card.followed_by_me = Some(state.following);
                card.followers_count = state.followers_count;
                card.following_count = state.following_count;
            }
        });
    }

    /// A profile just read from the server: fresher than anything the page held.
    pub fn saw_profile(&self, profile: &Profile) {
        let known = self.of(&profile.username);
        if profile.followed_by_me.is_some() {
            set_if_changed(known.followed_by_me, profile.followed_by_me);
        }
        set_if_changed(known.followers_count, Some(profile.followers_count));
        set_if_changed(known.following_count, Some(profile.following_count));
    }
}

/// Writing the same value again would still wake every reader; this does not.
fn set_if_changed<T: PartialEq + Send + Sync + 'static>(
    signal: RwSignal<Option<T>>,
    value: Option<T>,
) {
    if signal.with_untracked(|current| *current != value) {
        signal.set(value);
    }
}

/// Sets up the store for the app; call inside the `<Router>`. A new page starts afresh: every
/// entry forgets what it knew, so the page's own data and cards are what it shows. Entries are
/// emptied rather than removed, so a component of the new page that looked one up before the
/// reset still shares it with everything after.
pub fn provide_known_users() {
    let known = KnownUsers {
        users: StoredValue::new(HashMap::new()),
        owner: StoredValue::new(Owner::current().expect("called inside the app")),
    };
    provide_context(known);
    let pathname = use_location().pathname;
    Effect::new(move |previous: Option<String>| {
        let path = pathname.get();
        if previous.is_some_and(|previous| previous != path) {
            known.users.with_value(|users| {
                for entry in users.values() {
                    set_if_changed(entry.followed_by_me, None);
                    set_if_changed(entry.followers_count, None);
                    set_if_changed(entry.following_count, None);
                    entry.card.set(None);
                }
            });
        }
        path
    });
}

pub fn use_known_users() -> KnownUsers {
    expect_context::<KnownUsers>()
}
