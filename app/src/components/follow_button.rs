//! The Follow / Unfollow button. Before hydration (or without JavaScript) it is a plain
//! `<form method="post">` that the server answers with a redirect back; once hydrated, the same
//! form calls the server function, disables itself while waiting and flips in place.

use crate::components::known_users::use_known_users;
use crate::components::notice::use_notices;
use crate::error::AppError;
use crate::model::FollowState;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

#[server(prefix = "/api", endpoint = "follow")]
pub async fn follow(username: String) -> Result<FollowState, AppError> {
    use crate::{api, state};
    let says = |state: &FollowState| Some(state.message());
    api::change("follow", says, None, async |request| {
        let username = api::existing_username(&username)?;
        let follows = state::follow_queue()?;
        request
            .claimed(async |claim| follows.follow(claim, &username).await)
            .await
    })
    .await
}

#[server(prefix = "/api", endpoint = "unfollow")]
pub async fn unfollow(username: String) -> Result<FollowState, AppError> {
    use crate::{api, state};
    let says = |state: &FollowState| Some(state.message());
    api::change("unfollow", says, None, async |request| {
        let username = api::existing_username(&username)?;
        let follows = state::follow_queue()?;
        request
            .claimed(async |claim| follows.unfollow(claim, &username).await)
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
/// (issue #14's profile).
#[component]
pub fn FollowButton(
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
                follow(username).await
            } else {
                unfollow(username).await
            };
            known.follow_in_flight.try_set(false);
            // `try_set` hands the value back when the button is gone (the person moved on
            // while the answer travelled): the page still learns the new state, but the
            // message and the callbacks belonged to the page that was left.
            let button_gone = pending.try_set(false).is_some();
            match answer {
                Ok(state) => {
                    known_users.record(&state);
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
