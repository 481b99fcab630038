//! The one place outcome messages appear ("You are following susan!"), announced to screen
//! readers. Messages come from two paths: a flash stored by the server after a plain form post,
//! and actions run by the hydrated app. Either way a person sees the same text in the same
//! place, on the same page.

use crate::account::{AFTER_LOGOUT, AFTER_REGISTER};
use crate::error::AppError;
use crate::model::Flash;
use crate::session::use_session;
use leptos::prelude::*;
use leptos_router::hooks::use_location;

#[derive(Clone, Copy)]
pub struct Notices {
    current: RwSignal<Option<Flash>>,
    /// The page an action's message belongs to, when the action leads elsewhere (registering
    /// leads home): the message waits for that page and is cleared when the person leaves it.
    belongs_on: RwSignal<Option<&'static str>>,
    /// Set once the person leaves the page the server's flash was rendered for.
    flash_dismissed: RwSignal<bool>,
}

impl Notices {
    pub fn success(&self, message: String) {
        self.belongs_on.set(None);
        self.current.set(Some(Flash {
            message,
            is_error: false,
        }));
    }

    /// A success message for the page at `path`, where the action that produced it leads. The
    /// action's answer and the navigation may finish in either order.
    pub fn success_on(&self, path: &'static str, message: String) {
        self.belongs_on.set(Some(path));
        self.current.set(Some(Flash {
            message,
            is_error: false,
        }));
    }

    pub fn error(&self, error: &AppError) {
        self.belongs_on.set(None);
        self.current.set(Some(Flash {
            message: error.to_string(),
            is_error: true,
        }));
    }
}

pub fn use_notices() -> Notices {
    expect_context::<Notices>()
}

#[server(prefix = "/api", endpoint = "take_flash")]
pub async fn take_flash() -> Result<Option<Flash>, AppError> {
    crate::api::read("take_flash", async |request| {
        let flash = crate::flash::take();
        // A message is shown once: only a page without one may be kept.
        if flash.is_none() {
            request.page_part_cacheable([], time::OffsetDateTime::now_utc());
        }
        Ok(flash)
    })
    .await
}

/// Sets up the notice context; call inside the `<Router>`.
pub fn provide_notices() {
    let current = RwSignal::new(None);
    let belongs_on = RwSignal::new(None);
    let flash_dismissed = RwSignal::new(false);
    let notices = Notices {
        current,
        belongs_on,
        flash_dismissed,
    };
    provide_context(notices);
    // The flash belongs to the page the server rendered; it is read once, on that render.
    let flash = Resource::new(|| (), |_| take_flash());
    // A message is about the page it appeared on: moving to another page clears it, unless it
    // was waiting for that very page.
    let pathname = use_location().pathname;
    Effect::new(move |previous_path: Option<String>| {
        let path = pathname.get();
        if previous_path.is_some_and(|previous| previous != path) {
            flash_dismissed.set(true);
            let arrived_where_it_belongs = belongs_on.get_untracked() == Some(path.as_str());
            belongs_on.set(None);
            if !arrived_where_it_belongs {
                current.set(None);
            }
        }
        path
    });
    provide_context(flash);
    // The account actions that lead to another page say so there, as they do without JavaScript.
    let session = use_session();
    Effect::new(move |_| {
        if let Some(Ok(welcome)) = session.register.value().get() {
            notices.success_on(AFTER_REGISTER, welcome);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(goodbye)) = session.logout.value().get() {
            notices.success_on(AFTER_LOGOUT, goodbye);
        }
    });
}

#[component]
pub fn NoticeArea() -> impl IntoView {
    let notices = use_notices();
    let flash = expect_context::<Resource<Result<Option<Flash>, AppError>>>();
    let pathname = use_location().pathname;
    // An action's message that belongs on another page waits until that page is shown.
    let action_message = move || {
        notices.current.get().filter(|_| {
            notices
                .belongs_on
                .get()
                .is_none_or(|path| pathname.with(|now| now == path))
        })
    };
    view! {
        <div class="notice-area" role="status" aria-live="polite">
            <Suspense>
                {move || {
                    let server_flash = flash
                        .get()
                        .and_then(Result::ok)
                        .flatten()
                        .filter(|_| !notices.flash_dismissed.get());
                    action_message()
                        .or(server_flash)
                        .map(|flash| {
                            let class = if flash.is_error { "notice error" } else { "notice" };
                            view! { <p class=class>{flash.message}</p> }
                        })
                }}
            </Suspense>
        </div>
    }
}
