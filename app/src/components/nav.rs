use crate::app::Session;
use crate::error::AppError;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_router::components::A;

/// Signs out: the session record is deleted, so the cookie is worthless afterwards.
#[server(prefix = "/api", endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use crate::{auth, respond};
    let result = async {
        let session = auth::session().await?;
        auth::sign_out(&session).await
    }
    .await;
    respond::finish(
        result,
        |_| Some("You have signed out.".into()),
        Some("/login".into()),
    )
    .await
}

#[component]
pub fn NavBar() -> impl IntoView {
    let session = expect_context::<Session>();
    view! {
        <header class="topbar">
            <nav class="container nav" aria-label="Main">
                <A href="/" attr:class="brand">
                    "Microblog"
                </A>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match session.user.await {
                            Ok(Some(user)) => {
                                view! {
                                    <ul class="nav-links">
                                        <li><A href="/">"Home"</A></li>
                                        <li><A href="/explore">"Explore"</A></li>
                                        <li><A href=format!("/user/{}", user.username)>"Profile"</A></li>
                                        <li>
                                            <ActionForm action=session.logout attr:class="inline-form">
                                                <button type="submit" class="link-button">"Logout"</button>
                                            </ActionForm>
                                        </li>
                                    </ul>
                                }
                                    .into_any()
                            }
                            _ => {
                                view! {
                                    <ul class="nav-links">
                                        <li><A href="/explore">"Explore"</A></li>
                                        <li><A href="/login">"Login"</A></li>
                                    </ul>
                                }
                                    .into_any()
                            }
                        }
                    })}
                </Transition>
            </nav>
        </header>
    }
}
