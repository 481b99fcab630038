//! A person's name as a link that, once the page is hydrated, opens a small card about them on
//! hover, focus or tap: avatar, about me, counts, last seen and a Follow button that is the same
//! button as every other for them on the page. Without JavaScript it is simply a link.

use crate::components::follow_button::FollowButton;
use crate::components::known_users::{KnownUsers, use_known_users};
use crate::error::AppError;
use crate::model::{Profile, Timestamp};
use leptos::ev;
use leptos::prelude::*;
use leptos::wasm_bindgen::JsCast;
use leptos::web_sys;

#[server(prefix = "/api", endpoint = "profile")]
pub async fn get_profile(username: String) -> Result<Profile, AppError> {
    use crate::{api, db};
    api::read("profile", async |request| {
        let username = api::existing_username(&username)?;
        let read_from = time::OffsetDateTime::now_utc();
        let read =
            db::users::profile(&request.reads().await?, request.viewer().await?, &username).await?;
        request.page_part_cacheable([read.last_seen], read_from);
        Ok(read.profile)
    })
    .await
}

/// "Follows you", beside someone who follows the signed-in reader.
#[component]
pub fn FollowsYou(follows_me: bool) -> impl IntoView {
    follows_me.then(|| view! { <span class="follows-you">"Follows you"</span> })
}

/// "Last seen on: 3 minutes ago", with the exact time on hover; on a profile and in its card.
#[component]
pub fn LastSeen(at: Timestamp) -> impl IntoView {
    view! {
        <p class="last-seen">
            "Last seen on: "
            <time datetime=at.iso title=at.exact>
                {at.relative}
            </time>
        </p>
    }
}

/// Whether focus is leaving the card and its name: to an element outside them, or out of the
/// page. Focus lost because the clicked Follow button disabled itself while it waits does not
/// count: closing the card then would drop the follow's answer.
fn focus_leaves(event: &ev::FocusEvent) -> bool {
    let next = event
        .related_target()
        .and_then(|target| target.dyn_into::<web_sys::Node>().ok());
    match next {
        Some(next) => !event
            .current_target()
            .and_then(|current| current.dyn_into::<web_sys::Node>().ok())
            .is_some_and(|current| current.contains(Some(&next))),
        None => !event
            .target()
            .and_then(|losing| losing.dyn_into::<web_sys::Element>().ok())
            .is_some_and(|losing| losing.has_attribute("disabled")),
    }
}

/// A person's name linking to their profile, with the hover card. Given `avatar_url`, the link
/// is their avatar instead: a second way in for the mouse, left out of the tab order and of
/// screen readers, which have the name beside it.
///
/// A list drawing many names passes `known_users` so that each name does not look it up: each
/// lookup of a context walks up the page's owners, and the names' lookups were 5 % of the
/// server's time per profile page.
#[component]
pub fn UserLink(
    username: String,
    #[prop(optional, into)] avatar_url: Option<String>,
    #[prop(optional)] known_users: Option<KnownUsers>,
) -> impl IntoView {
    let known_users = known_users.unwrap_or_else(use_known_users);
    // A number, not signals of its own: the page holds the cards' state (`KnownUsers`), so a
    // name the server draws costs no more than its link.
    let number = known_users.number_name();
    let show = {
        let username = username.clone();
        move || {
            if known_users.open_card(number, &username) {
                let username = username.clone();
                leptos::task::spawn_local(async move {
                    let profile = get_profile(username.clone()).await.ok();
                    known_users.card_arrived(&username, profile);
                });
            }
        }
    };
    let close = move || known_users.close_card(number);
    // A tap on a touch screen opens the card first; a second tap follows the link.
    let on_pointerdown = move |event: ev::PointerEvent| {
        known_users.press_name(
            number,
            event.pointer_type() == "touch" && !known_users.card_open(number),
        );
    };
    let on_click = {
        let show = show.clone();
        move |event: ev::MouseEvent| {
            if known_users.take_tap(number) {
                event.prevent_default();
                show();
            }
        }
    };
    let on_keydown = move |event: ev::KeyboardEvent| {
        if event.key() == "Escape" && known_users.card_open(number) {
            close();
        }
    };
    let card_name = username.clone();
    view! {
        <span
            class="user-link"
            on:mouseenter={
                let show = show.clone();
                move |_| show()
            }
            on:mouseleave=move |_| close()
            on:focusin=move |_| show()
            on:focusout=move |event| {
                if focus_leaves(&event) {
                    close();
                }
            }
            on:keydown=on_keydown
            on:pointerdown=on_pointerdown
            on:click=on_click
        >
            {match avatar_url {
                Some(avatar_url) => view! {
                    <a href=format!("/user/{username}") class="avatar-link" tabindex="-1" aria-hidden="true">
                        <img class="avatar" src=avatar_url alt="" width="48" height="48" />
                    </a>
                }
                    .into_any(),
                None => view! {
                    <a href=format!("/user/{username}") class="author">{username.clone()}</a>
                }
                    .into_any(),
            }}
            {move || {
                known_users.card_shown(number).then(|| {
                    let username = card_name.clone();
                    let label = format!("About {username}");
                    view! {
                        <div class="hover-card" role="group" aria-label=label>
                            {move || match known_users.of(&username).card.get() {
                                Some(profile) => view! { <CardBody profile /> }.into_any(),
                                None => view! { <p class="loading">"Loading…"</p> }.into_any(),
                            }}
                        </div>
                    }
                })
            }}
        </span>
    }
    // Erased, so the lists that hold many of these stay within the compiler's type depth.
    .into_any()
}

/// " follower" or " followers", after a count of them.
pub fn followers_word(count: i64) -> &'static str {
    if count == 1 {
        " follower"
    } else {
        " followers"
    }
}

#[component]
fn CardBody(profile: Profile) -> impl IntoView {
    let known = use_known_users().of(&profile.username);
    let (rendered_followers, rendered_following) =
        (profile.followers_count, profile.following_count);
    let counts = move || {
        let followers = known.followers_count.get().unwrap_or(rendered_followers);
        format!(
            "{followers}{}, {} following.",
            followers_word(followers),
            known.following_count.get().unwrap_or(rendered_following)
        )
    };
    let (id, name) = (profile.id, profile.username.clone());
    view! {
        <div class="hover-card-head">
            <img class="avatar" src=profile.avatar_url alt="" width="48" height="48" />
            <div>
                <strong>{profile.username.clone()}</strong>
                <FollowsYou follows_me=profile.follows_me />
            </div>
        </div>
        {profile.about_me.map(|about| view! { <p class="about">{about}</p> })}
        <p class="counts">{counts}</p>
        <LastSeen at=profile.last_seen />
        {profile
            .followed_by_me
            .map(|following| view! { <FollowButton user_id=id username=name following /> })}
    }
}
