//! The Follow / Unfollow button. Before hydration (or without JavaScript) it is a plain
//! `<form method="post">` that the server answers with a redirect back; once hydrated, the same
//! form calls the server function, disables itself while waiting and flips in place.

use crate::components::known_users::use_known_users;
use crate::components::notice::use_notices;
use crate::error::AppError;
use crate::model::FollowState;
use leptos::form::ActionForm;
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "follow")]
pub async fn follow(username: String) -> Result<FollowState, AppError> {
    use crate::{api, db};
    let says = |state: &FollowState| Some(state.message());
    api::change("follow", says, None, async |request| {
        let username = api::existing_username(&username)?;
        db::follows::follow(&request.pool, request.me().await?, &username).await
    })
    .await
}

#[server(prefix = "/api", endpoint = "unfollow")]
pub async fn unfollow(username: String) -> Result<FollowState, AppError> {
    use crate::{api, db};
    let says = |state: &FollowState| Some(state.message());
    api::change("unfollow", says, None, async |request| {
        let username = api::existing_username(&username)?;
        db::follows::unfollow(&request.pool, request.me().await?, &username).await
    })
    .await
}

/// Every button for the same user on a page shows the same state (see `known_users`): the
/// first word on the page comes from the data a button is rendered with, later ones from the
/// server's answers to clicks and from fresh loads of the profile; a button rendered again
/// later (in a hover card opened again, say) does not overwrite them. `on_change` hears the true state after every completed click, and
/// `on_error` every failure, so a page can reload what it shows.
#[component]
pub fn FollowButton(
    username: String,
    following: bool,
    #[prop(optional, into)] on_change: Option<Callback<FollowState>>,
    #[prop(optional, into)] on_error: Option<Callback<()>>,
) -> impl IntoView {
    let follow = ServerAction::<Follow>::new();
    let unfollow = ServerAction::<Unfollow>::new();
    let known = use_known_users().of(&username);
    if known.followed_by_me.get_untracked().is_none() {
        known.followed_by_me.set(Some(following));
    }
    let rendered_with = following;
    let following = Signal::derive(move || known.followed_by_me.get().unwrap_or(rendered_with));
    let known_users = use_known_users();
    let pending = Signal::derive(move || follow.pending().get() || unfollow.pending().get());
    let notices = use_notices();
    // Only changes, so an idle button never clears another's flag for the same user.
    Effect::new(move |was_pending: Option<bool>| {
        let is_pending = pending.get();
        if was_pending.is_some_and(|was| was != is_pending) {
            known.follow_in_flight.set(is_pending);
        }
        is_pending
    });

    for action in [follow.value(), unfollow.value()] {
        Effect::new(move |_| match action.get() {
            Some(Ok(state)) => {
                known_users.record(&state);
                notices.success(state.message());
                if let Some(on_change) = on_change {
                    on_change.run(state);
                }
            }
            Some(Err(error)) => {
                notices.error(&error);
                if let Some(on_error) = on_error {
                    on_error.run(());
                }
            }
            None => {}
        });
    }

    let username = StoredValue::new(username);
    view! {
        <Show
            when=move || following.get()
            fallback=move || {
                view! {
                    <ActionForm action=follow attr:class="follow-form">
                        <input type="hidden" name="username" value=username.get_value() />
                        <button type="submit" class="button primary" disabled=pending>
                            "Follow"
                        </button>
                    </ActionForm>
                }
            }
        >
            <ActionForm action=unfollow attr:class="follow-form">
                <input type="hidden" name="username" value=username.get_value() />
                <button type="submit" class="button" disabled=pending>
                    "Unfollow"
                </button>
            </ActionForm>
        </Show>
    }
}
