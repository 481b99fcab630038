//! "Who to follow": up to five people the signed-in reader may want to follow, on the home
//! page. Following one works in place, and the box then shows the next suggestion. Without
//! JavaScript each Follow is a plain form, like every follow button.

use crate::components::user_list::UserRow;
use crate::error::AppError;
use crate::model::{FollowState, UserSummary};
use crate::session::Session;
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "who_to_follow")]
pub async fn who_to_follow() -> Result<Vec<UserSummary>, AppError> {
    use crate::{api, db, model::SUGGESTIONS_SHOWN};
    api::read("who_to_follow", async |request| {
        // Its people change only with the reader's follows, which a kept page is checked
        // against; a ranking older than its lifetime waits at most the kept page's minute.
        let read_from = time::OffsetDateTime::now_utc();
        let me = request.me().await?;
        // The ranking is kept on the primary; the people in it are shown as the rest of the
        // page shows them, from the request's node.
        let node = request.reads_node().await?;
        let people_from = (!node.is_primary()).then_some(&node.pool);
        match db::suggestions::suggestions(&request.pool, people_from, me, SUGGESTIONS_SHOWN).await
        {
            // The box must never cost the home page its status: a failure here (a busy
            // database, say) leaves the box out and the page a 200.
            Err(error) if error.status_code() >= 500 => {
                tracing::warn!(%error, "who to follow left out");
                crate::respond::page_not_cacheable();
                Ok(Vec::new())
            }
            result => {
                request.page_part_cacheable([], read_from);
                result
            }
        }
    })
    .await
}

/// The box's data, made by the page: see `pages::home`.
#[derive(Clone, Copy)]
pub struct Suggestions {
    /// Bumped after each follow from the box, so the followed person gives way to the next.
    followed_from_box: RwSignal<u32>,
    people: Resource<Result<Vec<UserSummary>, AppError>>,
}

impl Suggestions {
    /// Starts loading the people to suggest, once someone is known to be signed in.
    pub fn load(session: Session) -> Self {
        let followed_from_box = RwSignal::new(0u32);
        let people = Resource::new(
            move || followed_from_box.get(),
            move |_| async move {
                match session.is_signed_in().await {
                    true => who_to_follow().await,
                    false => Ok(Vec::new()),
                }
            },
        );
        Suggestions {
            followed_from_box,
            people,
        }
    }
}

#[component]
pub fn WhoToFollow(suggestions: Suggestions) -> impl IntoView {
    let Suggestions {
        followed_from_box,
        people: suggestions,
    } = suggestions;
    let on_change = Callback::new(move |_: FollowState| followed_from_box.update(|n| *n += 1));
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match suggestions.await {
                    Ok(people) if !people.is_empty() => view! {
                        <aside class="card who-to-follow" aria-labelledby="who-to-follow-title">
                            <h2 id="who-to-follow-title">"Who to follow"</h2>
                            <ul class="user-list">
                                {people
                                    .into_iter()
                                    .map(|user| view! { <UserRow user on_change /> })
                                    .collect_view()}
                            </ul>
                        </aside>
                    }
                        .into_any(),
                    // Nobody to suggest, or the box failed: the feed matters more than the box.
                    _ => ().into_any(),
                }
            })}
        </Transition>
    }
}
