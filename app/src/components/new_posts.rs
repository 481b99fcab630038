//! "N new posts" on the home page: the page listens to `/live/home` (server-sent events, see
//! `server::live`) and counts the new posts of people the reader follows. Nothing on screen
//! moves until the reader asks: the banner floats over the page, and activating it loads the
//! feed's first page afresh, without a document load. Without JavaScript there is no banner
//! and the page is as it always was.

use crate::model::Cursor;
use leptos::prelude::*;
use send_wrapper::SendWrapper;
use std::collections::HashSet;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{EventSource, MessageEvent};

/// What the banner says, once there is something to say.
#[derive(Debug, Clone, PartialEq, Eq)]
enum News {
    /// How many new posts, and who wrote them (each name once, in the order they posted).
    Posts { count: usize, authors: Vec<String> },
    /// The stream fell too far behind to count: the feed must simply be loaded again.
    Refresh,
}

impl News {
    fn with_post(self, author: String) -> News {
        match self {
            News::Posts { count, mut authors } => {
                if !authors.contains(&author) {
                    authors.push(author);
                }
                News::Posts {
                    count: count + 1,
                    authors,
                }
            }
            News::Refresh => News::Refresh,
        }
    }

    /// "1 new post from susan", "3 new posts from susan, mary and 2 others".
    fn label(&self) -> String {
        let News::Posts { count, authors } = self else {
            return "New posts: show them".to_owned();
        };
        let posts = if *count == 1 { "post" } else { "posts" };
        let named = match authors.as_slice() {
            [] => String::new(),
            [one] => one.clone(),
            [first, second] => format!("{first} and {second}"),
            [first, second, rest @ ..] if rest.len() == 1 => {
                format!("{first}, {second} and {}", rest[0])
            }
            [first, second, rest @ ..] => format!("{first}, {second} and {} others", rest.len()),
        };
        format!("{count} new {posts} from {named}")
    }
}

/// The open stream and its handlers, which must live exactly as long as the page listens.
struct Listening {
    source: EventSource,
    _on_post: Closure<dyn FnMut(MessageEvent)>,
    _on_refresh: Closure<dyn FnMut(MessageEvent)>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.source.close();
    }
}

/// `newest`: where the stream starts once the first page has loaded: its newest post (so a
/// post made while the page loaded still counts), or `None` for "from now" when the feed could
/// not be loaded. `shown`: the ids of the posts
/// on screen, which are not news. `show`: loads the feed afresh.
#[component]
pub fn NewPostsBanner(
    newest: Signal<Option<Option<Cursor>>>,
    shown: Signal<Vec<i64>>,
    show: Callback<()>,
) -> impl IntoView {
    let news = RwSignal::new(None::<News>);
    let counted = StoredValue::new(HashSet::<i64>::new());
    // Posts already on screen are never counted, even when the stream announces them later.
    Effect::new(move |_| {
        let ids = shown.get();
        counted.update_value(|counted| counted.extend(ids));
    });
    let listening = StoredValue::new(None::<SendWrapper<Listening>>);
    Effect::new(move |_| {
        // Opened once, as soon as the feed has loaded; it follows the page from then on.
        let Some(newest) = newest.get() else { return };
        if listening.with_value(Option::is_some) {
            return;
        }
        let url = match newest {
            Some(cursor) => format!("/live/home?after={cursor}"),
            None => "/live/home".to_owned(),
        };
        let Ok(source) = EventSource::new(&url) else {
            return;
        };
        let on_post = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            // "<post id> <author>"
            let Some(data) = event.data().as_string() else {
                return;
            };
            let Some((id, author)) = data.split_once(' ') else {
                return;
            };
            let Ok(id) = id.parse::<i64>() else { return };
            if counted.try_update_value(|counted| counted.insert(id)) == Some(true) {
                news.try_update(|news| {
                    let before = news.take().unwrap_or(News::Posts {
                        count: 0,
                        authors: Vec::new(),
                    });
                    *news = Some(before.with_post(author.to_owned()));
                });
            }
        });
        let closing = source.clone();
        let on_refresh = Closure::<dyn FnMut(MessageEvent)>::new(move |_: MessageEvent| {
            closing.close();
            news.try_set(Some(News::Refresh));
        });
        let _ = source.add_event_listener_with_callback("post", on_post.as_ref().unchecked_ref());
        let _ =
            source.add_event_listener_with_callback("refresh", on_refresh.as_ref().unchecked_ref());
        listening.set_value(Some(SendWrapper::new(Listening {
            source,
            _on_post: on_post,
            _on_refresh: on_refresh,
        })));
    });
    on_cleanup(move || {
        // Closes the stream when the reader leaves the page.
        listening.try_update_value(|listening| listening.take());
    });
    let activate = move |_| {
        if news.get_untracked() == Some(News::Refresh) {
            // The stream ended; a fresh page starts a fresh one.
            listening.update_value(|listening| {
                listening.take();
            });
        }
        news.set(None);
        show.run(());
    };
    move || {
        news.get().map(|news| {
            let label = news.label();
            view! {
                <button type="button" class="new-posts" aria-live="polite" on:click=activate>
                    {label}
                </button>
            }
        })
    }
}
