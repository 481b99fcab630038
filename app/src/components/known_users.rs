//! One source of truth per user per page. Every Follow button, follower count and hover card
//! for the same person reads and writes the same signals, so a follow from a hover card shows
//! on the profile's button and counts at once, and the other way round.

use crate::model::{FollowState, Profile};
use leptos::prelude::*;
use leptos_router::hooks::use_location;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

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
    /// The hover cards' state, one for the whole page rather than signals per name: a page
    /// shows dozens of names and opens a card on one of them, and each name's own signals and
    /// memo were a seventh of the server's time per home page (scripts/profile.sh).
    cards: HoverCards,
}

/// Which name's card is open. Names are numbered as they are drawn; one card is open at a time.
#[derive(Clone, Copy)]
struct HoverCards {
    open: RwSignal<Option<u64>>,
    /// The card opened last stays while a follow from it waits for its answer.
    last: RwSignal<Option<(u64, String)>>,
    /// Cards already asked for from the server, so each is loaded once per page.
    requested: StoredValue<HashSet<String>>,
    /// A name whose card a tap opened: the next tap follows its link.
    tapped: StoredValue<Option<u64>>,
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

    /// A number for a name being drawn, which its card is known by. A plain counter, not a
    /// reactive value: drawing names on the server then touches no signal at all (under load,
    /// about one home page in a thousand found a store value disposed there; the server never
    /// shows a card anyway).
    pub fn number_name(&self) -> u64 {
        static NEXT_NAME: AtomicU64 = AtomicU64::new(1);
        NEXT_NAME.fetch_add(1, Ordering::Relaxed)
    }

    /// Whether the card of name `number` is shown (a reactive read). Never on the server,
    /// where nothing is hovered: answered without reading the signals, which for every name on
    /// a page was 4 % of the server's time per profile page.
    pub fn card_shown(&self, number: u64) -> bool {
        if cfg!(feature = "ssr") {
            return false;
        }
        if self.cards.open.try_get().flatten() == Some(number) {
            return true;
        }
        let pinned = self.cards.last.try_with(|last| {
            last.as_ref()
                .filter(|(last, _)| *last == number)
                .map(|(_, username)| username.clone())
        });
        match pinned.flatten() {
            Some(username) => self.of(&username).follow_in_flight.get(),
            None => false,
        }
    }

    /// Opens the card of name `number` (closing any other). `true` the first time this page
    /// opens a card for `username`: the caller loads its data then (`user_card`, which owns
    /// the server function) and hands it to `card_arrived`.
    pub fn open_card(&self, number: u64, username: &str) -> bool {
        if self.cards.open.get_untracked() != Some(number) {
            self.cards.open.set(Some(number));
        }
        // The card whose follow still waits for its answer stays pinned, or the answer would
        // be dropped with it.
        let (last_number, pinned_in_flight) = self.cards.last.with_untracked(|last| match last {
            Some((last, name)) => (
                Some(*last),
                *last != number && self.of(name).follow_in_flight.get_untracked(),
            ),
            None => (None, false),
        });
        if !pinned_in_flight && last_number != Some(number) {
            self.cards.last.set(Some((number, username.to_owned())));
        }
        let key = username.to_lowercase();
        self.of(username).card.get_untracked().is_none()
            && self
                .cards
                .requested
                .try_update_value(|asked| asked.insert(key))
                .unwrap_or(false)
    }

    /// The data of `username`'s card, as the server answered; `None` when it failed, and the
    /// card asks again the next time it opens.
    pub fn card_arrived(&self, username: &str, profile: Option<Profile>) {
        match profile {
            Some(profile) => {
                self.saw_profile(&profile);
                self.of(username).card.try_set(Some(profile));
            }
            None => {
                self.cards
                    .requested
                    .try_update_value(|asked| asked.remove(&username.to_lowercase()));
            }
        }
    }

    pub fn close_card(&self, number: u64) {
        if self.cards.open.get_untracked() == Some(number) {
            self.cards.open.set(None);
        }
    }

    /// Whether the card is open for the name `number` (not tracked).
    pub fn card_open(&self, number: u64) -> bool {
        self.cards.open.get_untracked() == Some(number)
    }

    /// Records whether a pointer press on name `number` was a tap that should open its card
    /// rather than follow the link; `take_tap` answers once, at the click.
    pub fn press_name(&self, number: u64, opens_card: bool) {
        self.cards.tapped.set_value(opens_card.then_some(number));
    }

    pub fn take_tap(&self, number: u64) -> bool {
        self.cards
            .tapped
            .try_update_value(|tapped| tapped.take_if(|tapped| *tapped == number).is_some())
            .unwrap_or(false)
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
        cards: HoverCards {
            open: RwSignal::new(None),
            last: RwSignal::new(None),
            requested: StoredValue::new(HashSet::new()),
            tapped: StoredValue::new(None),
        },
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
            known.cards.open.set(None);
            known.cards.last.set(None);
            known.cards.requested.update_value(HashSet::clear);
        }
        path
    });
}

pub fn use_known_users() -> KnownUsers {
    expect_context::<KnownUsers>()
}
