use crate::session::use_session;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn NavBar() -> impl IntoView {
    let session = use_session();
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
