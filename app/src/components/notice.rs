//! The one place outcome messages appear ("You are following susan!"), announced to screen
//! readers. Messages come from two paths: a flash stored by the server after a plain form post,
//! and actions run by the hydrated app.

use crate::error::AppError;
use crate::model::Flash;
use leptos::prelude::*;
use leptos_router::hooks::use_location;

#[derive(Clone, Copy)]
pub struct Notices {
    current: RwSignal<Option<Flash>>,
    /// Set once the person leaves the page the server's flash was rendered for.
    flash_dismissed: RwSignal<bool>,
}

impl Notices {
    pub fn success(&self, message: String) {
        self.current.set(Some(Flash {
            message,
            is_error: false,
        }));
    }

    pub fn error(&self, error: &AppError) {
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
    crate::api::read("take_flash", async |_| Ok(crate::flash::take())).await
}

/// Sets up the notice context; call inside the `<Router>`.
pub fn provide_notices() {
    let current = RwSignal::new(None);
    let flash_dismissed = RwSignal::new(false);
    provide_context(Notices {
        current,
        flash_dismissed,
    });
    // The flash belongs to the page the server rendered; it is read once, on that render.
    let flash = Resource::new(|| (), |_| take_flash());
    // A message is about the page it appeared on: moving to another page clears it.
    let pathname = use_location().pathname;
    Effect::new(move |previous_path: Option<String>| {
        let path = pathname.get();
        if previous_path.is_some_and(|previous| previous != path) {
            current.set(None);
            flash_dismissed.set(true);
        }
        path
    });
    provide_context(flash);
}

#[component]
pub fn NoticeArea() -> impl IntoView {
    let notices = use_notices();
    let flash = expect_context::<Resource<Result<Option<Flash>, AppError>>>();
    view! {
        <div class="notice-area" role="status" aria-live="polite">
            <Suspense>
                {move || {
                    let server_flash = flash
                        .get()
                        .and_then(Result::ok)
                        .flatten()
                        .filter(|_| !notices.flash_dismissed.get());
                    notices
                        .current
                        .get()
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
