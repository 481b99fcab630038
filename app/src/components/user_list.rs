use crate::components::follow_button::FollowButton;
use crate::components::known_users::use_known_users;
use crate::components::user_card::{FollowsYou, UserLink};
use crate::model::{FollowState, UserSummary};
use leptos::prelude::*;

#[component]
pub fn UserRow(
    user: UserSummary,
    /// Hears the state after each follow or unfollow from this row.
    #[prop(optional, into)]
    on_change: Option<Callback<FollowState>>,
) -> impl IntoView {
    let name = user.username.clone();
    let known_users = use_known_users();
    view! {
        <li class="user-row">
            <UserLink username=user.username.clone() avatar_url=user.avatar_url known_users />
            <div class="user-main">
                <UserLink username=name known_users />
                <FollowsYou follows_me=user.follows_me />
                {user.about_me.map(|about| view! { <p class="about">{about}</p> })}
            </div>
            {user
                .followed_by_me
                .map(|following| match on_change {
                    Some(on_change) => {
                        view! { <FollowButton user_id=user.id username=user.username following on_change /> }
                            .into_any()
                    }
                    None => {
                        view! { <FollowButton user_id=user.id username=user.username following /> }
                            .into_any()
                    }
                })}
        </li>
    }
}
