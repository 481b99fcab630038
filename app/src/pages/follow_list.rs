use crate::components::params::username_param;
use crate::components::post_list::{Pager, page_query};
use crate::components::title::page_title;
use crate::components::user_list::UserRow;
use crate::domain::could_be_username;
use crate::error::AppError;
use crate::model::{Direction, Page, UserSummary};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

/// A user's followers or the users they follow, newest link first.
#[server(prefix = "/api", endpoint = "follow_list")]
pub async fn follow_list(
    username: String,
    direction: Direction,
    before: Option<String>,
    after: Option<String>,
) -> Result<Page<UserSummary>, AppError> {
    use crate::{api, db, model::PAGE_SIZE, model::PageRequest};
    api::read("follow_list", async |request| {
        let username = api::existing_username(&username)?;
        let page = PageRequest::from_query(before.as_deref(), after.as_deref())?;
        let viewer = request.viewer().await?;
        db::follows::list(
            &request.reads().await?,
            viewer,
            &username,
            direction,
            page,
            PAGE_SIZE,
        )
        .await
    })
    .await
}

#[component]
pub fn FollowListPage(direction: Direction) -> impl IntoView {
    let username = username_param();
    let query = page_query();
    let list = Resource::new(
        move || (username.get(), query.get()),
        move |(name, (before, after))| follow_list(name, direction, before, after),
    );
    // A name no account can have (markup from a crafted link, say) is never shown.
    let shown_name = move || Some(username.get()).filter(|name| could_be_username(name));
    let heading = move || match shown_name() {
        Some(name) => match direction {
            Direction::Followers => format!("Followers of {name}"),
            Direction::Following => format!("Followed by {name}"),
        },
        None => "Not found".to_string(),
    };
    view! {
        <Title text=page_title(heading) />
        <h1>{heading}</h1>
        {move || shown_name().map(|name| view! {
            <p><A href=format!("/user/{name}")>"← Back to the profile"</A></p>
        })}
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Ok(page) if page.items.is_empty() => view! { <p class="empty">"Nobody yet."</p> }.into_any(),
                    Ok(page) => view! {
                        <ul class="user-list card">
                            {page.items.into_iter().map(|user| view! { <UserRow user /> }).collect_view()}
                        </ul>
                        <Pager newer=page.newer older=page.older noun="people" />
                    }
                        .into_any(),
                    Err(error) => view! { <p class="notice error">{error.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}
