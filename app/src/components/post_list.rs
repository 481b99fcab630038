use crate::components::known_users::{KnownUsers, use_known_users};
use crate::components::user_card::UserLink;
use crate::model::{Cursor, Page, PostView};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

/// The `before` / `after` cursors of the current URL, for list pages.
pub fn page_query() -> Memo<(Option<String>, Option<String>)> {
    let query = use_query_map();
    Memo::new(move |_| {
        let query = query.read();
        (query.get("before"), query.get("after"))
    })
}

#[component]
pub fn PostItem(post: PostView, known_users: KnownUsers) -> impl IntoView {
    view! {
        <article class="post">
            <UserLink username=post.author.clone() avatar_url=post.avatar_url known_users />
            <div class="post-main">
                <p class="post-meta">
                    <UserLink username=post.author.clone() known_users />
                    " · "
                    <time datetime=post.created.iso title=post.created.exact>
                        {post.created.relative}
                    </time>
                </p>
                // Text, never HTML: Leptos escapes it.
                <p class="post-body">{post.body}</p>
            </div>
        </article>
    }
}

#[component]
pub fn PostList(page: Page<PostView>, #[prop(into)] empty: String) -> impl IntoView {
    if page.items.is_empty() {
        return view! { <p class="empty">{empty}</p> }.into_any();
    }
    let known_users = use_known_users();
    view! {
        <div class="posts">
            {page.items.into_iter().map(|post| view! { <PostItem post known_users /> }).collect_view()}
        </div>
        <Pager newer=page.newer older=page.older noun="posts" />
    }
    .into_any()
}

/// "Newer posts" / "Older posts" links (or another `noun`) that keep the current path.
#[component]
pub fn Pager(newer: Option<Cursor>, older: Option<Cursor>, noun: &'static str) -> impl IntoView {
    if newer.is_none() && older.is_none() {
        return ().into_any();
    }
    view! {
        <nav class="pager" aria-label="Pages">
            {newer.map(|cursor| view! { <A href=format!("?after={cursor}") attr:class="newer">{format!("← Newer {noun}")}</A> })}
            {older.map(|cursor| view! { <A href=format!("?before={cursor}") attr:class="older">{format!("Older {noun} →")}</A> })}
        </nav>
    }
    .into_any()
}
