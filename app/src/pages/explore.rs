use crate::components::post_list::{PostList, page_query};
use crate::error::AppError;
use crate::model::{Page, PostView};
use leptos::prelude::*;
use leptos_meta::Title;

#[server(prefix = "/api", endpoint = "explore")]
pub async fn explore_posts(
    before: Option<String>,
    after: Option<String>,
) -> Result<Page<PostView>, AppError> {
    use crate::{api, db, model::PageRequest};
    api::read("explore", async |request| {
        let page = PageRequest::from_query(before.as_deref(), after.as_deref())?;
        let read_from = time::OffsetDateTime::now_utc();
        let posts = db::posts::explore(&request.reads().await?, page).await?;
        request.page_part_cacheable(crate::present::post_times(&posts), read_from);
        Ok(posts)
    })
    .await
}

#[component]
pub fn ExplorePage() -> impl IntoView {
    let query = page_query();
    let posts = Resource::new(
        move || query.get(),
        |(before, after)| explore_posts(before, after),
    );
    view! {
        <Title text="Explore" />
        <h1>"Explore"</h1>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match posts.await {
                    Ok(page) => view! { <PostList page empty="No posts yet." /> }.into_any(),
                    Err(error) => view! { <p class="notice error">{error.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}
