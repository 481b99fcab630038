//! The Follow / Unfollow button. Before hydration (or without JavaScript) it is a plain
//! `<form method="post">` that the server answers with a redirect back; once hydrated, the same
//! form calls the server function, disables itself while waiting and flips in place.

use crate::components::known_users::use_known_users;
use crate::components::notice::use_notices;
use crate::error::AppError;
use crate::model::{FollowState, UserId};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// Follows the person with id `user_id` (whom the button was drawn for, whatever they are
/// called now) or, without it, whoever is called `username`.
#[server(prefix = "/api", endpoint = "follow")]
pub async fn follow(username: String, user_id: Option<i64>) -> Result<FollowState, AppError> {
    change_follow("follow", username, user_id, true).await
}

#[server(prefix = "/api", endpoint = "unfollow")]
pub async fn unfollow(username: String, user_id: Option<i64>) -> Result<FollowState, AppError> {
    change_follow("unfollow", username, user_id, false).await
}

#[cfg(feature = "ssr")]
async fn change_follow(
    name: &'static str,
    username: String,
    user_id: Option<i64>,
    follow: bool,
) -> Result<FollowState, AppError> {
    use crate::db::follows::FollowChange;
    use crate::model::UserId;
    use crate::{api, state};
    let says = |state: &FollowState| Some(state.message());
    api::change(name, says, None, async |request| {
        let username = api::existing_username(&username)?;
        let follows = state::follow_queue()?;
        request
            .claimed(async |claim| {
                let change =
                    FollowChange::new(claim, &username, follow).of_id(user_id.map(UserId::new));
                follows.change(change).await
            })
            .await
    })
    .await
}

/// Every button for the same user on a page shows the same state (see `known_users`): the
/// first word on the page comes from the data a button is rendered with, later ones from the
/// server's answers to clicks and from fresh loads of the profile; a button rendered again
/// later (in a hover card opened again, say) does not overwrite them. `on_change` hears the
/// true state after every completed click, and `on_error` every failure, so a page can reload
/// what it shows.
///
/// One form whose action follows the state, and one flag for the click in flight, rather than
/// a server action and an `ActionForm` for each of Follow and Unfollow: a page draws up to
/// twenty of these, and the two actions' signals were most of a button's cost on the server
/// (scripts/profile.sh).
#[component]
pub fn FollowButton(
    /// Whom the button acts on: their id, whatever they are called by the time it is clicked.
    user_id: UserId,
    username: String,
    following: bool,
    #[prop(optional, into)] on_change: Option<Callback<FollowState>>,
    #[prop(optional, into)] on_error: Option<Callback<()>>,
) -> impl IntoView {
    let known_users = use_known_users();
    let known = known_users.of(&username);
    if known.followed_by_me.get_untracked().is_none() {
        known.followed_by_me.set(Some(following));
    }
    let rendered_with = following;
    let following = Signal::derive(move || known.followed_by_me.get().unwrap_or(rendered_with));
    let pending = RwSignal::new(false);
    let notices = use_notices();
    let username = StoredValue::new(username);
    let on_submit = move |event: SubmitEvent| {
        if event.default_prevented() {
            return;
        }
        event.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let start_following = !following.get_untracked();
        pending.set(true);
        known.follow_in_flight.set(true);
        let username = username.get_value();
        leptos::task::spawn_local(async move {
            let answer = if start_following {
                follow(username, Some(user_id.get())).await
            } else {
                unfollow(username, Some(user_id.get())).await
            };
            known.follow_in_flight.try_set(false);
            // `try_set` hands the value back when the button is gone (the person moved on
            // while the answer travelled): the page still learns the new state, but the
            // message and the callbacks belonged to the page that was left.
            let button_gone = pending.try_set(false).is_some();
            match answer {
                Ok(state) => {
                    known_users.record(&state);
                    // Under the name it was drawn with: the answer names them as they are now.
                    known.followed_by_me.try_set(Some(state.following));
                    if button_gone {
                        return;
                    }
                    notices.success(state.message());
                    if let Some(on_change) = on_change {
                        on_change.try_run(state);
                    }
                }
                Err(error) if !button_gone => {
                    notices.error(&error);
                    if let Some(on_error) = on_error {
                        on_error.try_run(());
                    }
                }
                Err(_) => {}
            }
        });
    };
    view! {
        <form
            action=move || if following.get() { Unfollow::url() } else { Follow::url() }
            method="post"
            class="follow-form"
            on:submit=on_submit
        >
            <input type="hidden" name="username" value=username.get_value() />
            <input type="hidden" name="user_id" value=user_id.get().to_string() />
            <button
                type="submit"
                class=move || if following.get() { "button" } else { "button primary" }
                disabled=pending
            >
                {move || if following.get() { "Unfollow" } else { "Follow" }}
            </button>
        </form>
    }
}
