use crate::components::follow_button::FollowButton;
use crate::components::known_users::use_known_users;
use crate::components::params::username_param;
use crate::components::post_list::{PostList, page_query};
use crate::components::title::{page_title, username_title};
use crate::components::user_card::get_profile;
use crate::components::user_card::{FollowsYou, LastSeen, followers_word};
use crate::error::AppError;
use crate::model::{Page, PostView, Profile};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[server(prefix = "/api", endpoint = "user_posts")]
pub async fn get_user_posts(
    username: String,
    before: Option<String>,
    after: Option<String>,
) -> Result<Page<PostView>, AppError> {
    use crate::{api, db, model::PAGE_SIZE, model::PageRequest};
    api::read("user_posts", async |request| {
        let username = api::existing_username(&username)?;
        let page = PageRequest::from_query(before.as_deref(), after.as_deref())?;
        let read_from = time::OffsetDateTime::now_utc();
        let posts =
            db::posts::user_posts(&request.reads().await?, &username, page, PAGE_SIZE).await?;
        request.page_part_cacheable(crate::present::post_times(&posts), read_from);
        Ok(posts)
    })
    .await
}

#[component]
pub fn ProfilePage() -> impl IntoView {
    let username = username_param();
    let query = page_query();
    // Bumped when a follow click fails, to show the true state again.
    let reload = RwSignal::new(0u32);
    let profile = Resource::new(
        move || (username.get(), reload.get()),
        |(name, _)| get_profile(name),
    );
    let posts = Resource::new(
        move || (username.get(), query.get()),
        |(name, (before, after))| get_user_posts(name, before, after),
    );
    view! {
        <Title text=page_title(move || username_title(username.get())) />
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match profile.await {
                    Ok(profile) => view! {
                        <ProfileCard profile on_error=move || reload.update(|n| *n += 1) />
                        <h2 class="section-title">"Posts"</h2>
                        <Transition fallback=|| ()>
                            {move || Suspend::new(async move {
                                match posts.await {
                                    Ok(page) => view! { <PostList page empty="No posts yet." /> }.into_any(),
                                    Err(error) => view! { <p class="notice error">{error.to_string()}</p> }.into_any(),
                                }
                            })}
                        </Transition>
                    }
                        .into_any(),
                    Err(AppError::NotFound(message)) => view! {
                        <section class="card not-found">
                            <h1>"Not found"</h1>
                            <p>{message}</p>
                            <A href="/explore">"Explore posts"</A>
                        </section>
                    }
                        .into_any(),
                    Err(error) => view! { <p class="notice error">{error.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ProfileCard(profile: Profile, #[prop(into)] on_error: Callback<()>) -> impl IntoView {
    // The counts are the page's, shared with every hover card and button for this user.
    let known_users = use_known_users();
    known_users.saw_profile(&profile);
    let known = known_users.of(&profile.username);
    let (rendered_followers, rendered_following) =
        (profile.followers_count, profile.following_count);
    let followers = move || known.followers_count.get().unwrap_or(rendered_followers);
    let following = move || known.following_count.get().unwrap_or(rendered_following);
    let name = profile.username.clone();
    let action = if profile.is_me {
        view! { <A href="/edit_profile" attr:class="button">"Edit your profile"</A> }.into_any()
    } else {
        match profile.followed_by_me {
            Some(is_following) => view! {
                <FollowButton
                    user_id=profile.id
                    username=name.clone()
                    following=is_following
                    on_error=on_error
                />
            }
                .into_any(),
            None => view! {
                <A href=format!("/login?next=/user/{name}") attr:class="button primary">"Sign in to follow"</A>
            }
                .into_any(),
        }
    };
    view! {
        <section class="card profile">
            <img class="avatar large" src=profile.avatar_url alt="" width="128" height="128" />
            <div class="profile-main">
                <h1>"User: " {profile.username.clone()}</h1>
                <FollowsYou follows_me=profile.follows_me />
                {profile.about_me.map(|about| view! { <p class="about">{about}</p> })}
                <LastSeen at=profile.last_seen />
                <p class="counts">
                    <A href=format!("/user/{}/followers", profile.username)>
                        <span class="followers-count">{followers}</span>
                        {move || followers_word(followers())}
                    </A>
                    ", "
                    <A href=format!("/user/{}/following", profile.username)>
                        <span class="following-count">{following}</span>
                        " following"
                    </A>
                    "."
                </p>
                <div class="profile-action">{action}</div>
            </div>
        </section>
    }
}
