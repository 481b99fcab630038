use crate::components::follow_button::FollowButton;
use crate::model::UserSummary;
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn UserRow(user: UserSummary) -> impl IntoView {
    let profile = format!("/user/{}", user.username);
    let name = user.username.clone();
    view! {
        <li class="user-row">
            <img class="avatar" src=user.avatar_url alt="" width="48" height="48" />
            <div class="user-main">
                <A href=profile attr:class="author">{name}</A>
                {user.about_me.map(|about| view! { <p class="about">{about}</p> })}
            </div>
            {user
                .followed_by_me
                .map(|following| view! { <FollowButton username=user.username following /> })}
        </li>
    }
}
