use crate::components::new_posts::NewPostsBanner;
use crate::components::notice::use_notices;
use crate::components::post_list::{PostList, page_query};
use crate::components::who_to_follow::{Suggestions, WhoToFollow};
use crate::domain::POST_MAX_CHARS;
use crate::error::AppError;
use crate::model::{Cursor, Page, PostView};
use crate::session::{Session, use_session};
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

/// The signed-in user's home feed: their posts and those of everyone they follow. `fresh`
/// reads it from the primary: the live banner announced posts the primary has, which a
/// replica may not have replayed yet.
#[server(prefix = "/api", endpoint = "home_feed")]
pub async fn home_feed(
    before: Option<String>,
    after: Option<String>,
    #[server(default)] fresh: bool,
) -> Result<Page<PostView>, AppError> {
    use crate::{api, db, model::PageRequest};
    api::read("home_feed", async |mut request| {
        if fresh {
            request.read_from_primary();
        }
        let me = request.me().await?;
        let page = PageRequest::from_query(before.as_deref(), after.as_deref())?;
        let following = request.known_following_count(me);
        // Taken before the posts' own times are written, so a text about to change ("59
        // seconds ago") is not taken for one that lasts.
        let written_from = time::OffsetDateTime::now_utc();
        let posts = db::posts::followed_posts(&request.reads().await?, me, following, page).await?;
        // Only the first page is kept.
        if page == PageRequest::First {
            request.page_part_cacheable(crate::present::post_times(&posts), written_from);
        }
        Ok(posts)
    })
    .await
}

/// Publishes a post and answers with the message to show, with or without JavaScript.
#[server(prefix = "/api", endpoint = "create_post")]
pub async fn create_post(body: String) -> Result<String, AppError> {
    use crate::{api, db, domain::PostBody};
    let live = |message: &String| Some(message.clone());
    api::change("create_post", live, Some("/".into()), async |request| {
        let me = request.me().await?;
        let body = PostBody::parse(&body).map_err(AppError::BadRequest)?;
        db::posts::create_post(&request.pool, me, &body).await?;
        Ok("Your post is now live!".to_string())
    })
    .await
}

#[component]
pub fn HomePage() -> impl IntoView {
    let session = use_session();
    // Made here, not in `Home`: the `Suspend` that waits for the session may run its closure
    // again, and resources made inside it loaded the feed and Who to follow again each time
    // (three times per page when the session was already read).
    let feed = FeedState::load(session);
    let suggestions = Suggestions::load(session);
    view! {
        <Title text="Home" />
        <Suspense>
            {move || Suspend::new(async move {
                match session.user.await {
                    Ok(Some(user)) => {
                        view! { <Home username=user.username feed suggestions /> }.into_any()
                    }
                    Ok(None) => view! { <Redirect path="/login?next=/" /> }.into_any(),
                    Err(error) => view! { <p class="notice error">{error.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The feed on the home page and what reloads it: a new post, the "N new posts" banner, the
/// page asked for in the URL.
#[derive(Clone, Copy)]
struct FeedState {
    create: ServerAction<CreatePost>,
    query: Memo<(Option<String>, Option<String>)>,
    /// Bumped by the "N new posts" banner: the first page is loaded again.
    reloads: RwSignal<u32>,
    page: Resource<Result<Page<PostView>, AppError>>,
}

impl FeedState {
    fn load(session: Session) -> Self {
        let create = ServerAction::<CreatePost>::new();
        let query = page_query();
        let reloads = RwSignal::new(0_u32);
        let page = Resource::new(
            move || (query.get(), create.version().get(), reloads.get()),
            move |((before, after), _, reloaded)| async move {
                match session.is_signed_in().await {
                    true => home_feed(before, after, reloaded > 0).await,
                    // The page sends them to sign in; there is no feed to show.
                    false => Ok(Page {
                        items: Vec::new(),
                        newer: None,
                        older: None,
                    }),
                }
            },
        );
        FeedState {
            create,
            query,
            reloads,
            page,
        }
    }
}

#[component]
fn Home(username: String, feed: FeedState, suggestions: Suggestions) -> impl IntoView {
    let FeedState {
        create,
        query,
        reloads,
        page: feed,
    } = feed;
    let on_first_page = move || query.with(|(before, after)| before.is_none() && after.is_none());
    let loaded_page = move || feed.get().map(Result::ok);
    // Where the live feed starts: the newest post of a loaded first page (a page of older posts
    // still on screen while the first one loads must not count as seen). An empty first page
    // had no post of anyone followed, so everything since the beginning is new: `0_0`.
    let newest = Signal::derive(move || {
        loaded_page().and_then(|page| match page {
            Some(page) if page.newer.is_none() => Some(Some(
                page.items
                    .first()
                    .map_or(Cursor { micros: 0, id: 0 }, |post| post.cursor),
            )),
            Some(_) => None,
            None => Some(None),
        })
    });
    let shown = Signal::derive(move || {
        loaded_page()
            .flatten()
            .map(|page| page.items.iter().map(|post| post.id).collect())
            .unwrap_or_default()
    });
    let show_new_posts = Callback::new(move |()| {
        reloads.update(|count| *count += 1);
        window().scroll_to_with_x_and_y(0.0, 0.0);
    });
    let form = NodeRef::<leptos::html::Form>::new();
    let notices = use_notices();
    Effect::new(move |_| {
        if let Some(Ok(message)) = create.value().get() {
            notices.success(message);
            if let Some(form) = form.get() {
                form.reset();
            }
        }
    });
    let post_error = move || {
        create
            .value()
            .get()
            .and_then(Result::err)
            .map(|error| view! { <p class="field-error" role="alert">{error.to_string()}</p> })
    };
    view! {
        <h1>"Hi, " {username} "!"</h1>
        <section class="card composer">
            <ActionForm action=create node_ref=form>
                <label for="post-body">"Say something"</label>
                <textarea
                    id="post-body"
                    name="body"
                    rows="3"
                    required
                    maxlength=POST_MAX_CHARS.to_string()
                    placeholder="What's happening?"
                ></textarea>
                {post_error}
                <button type="submit" class="button primary" disabled=create.pending()>
                    "Submit"
                </button>
            </ActionForm>
        </section>
        {move || {
            on_first_page()
                .then(|| view! { <NewPostsBanner newest shown show=show_new_posts /> })
        }}
        <WhoToFollow suggestions />
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match feed.await {
                    Ok(page) => view! {
                        <PostList page empty="Nothing here yet: post something, or follow people from Explore." />
                    }
                        .into_any(),
                    Err(error) => view! { <p class="notice error">{error.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}
