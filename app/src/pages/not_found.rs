use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

/// Shown for any path no route matches; leptos_axum answers it with status 404.
#[component]
pub fn NotFoundPage() -> impl IntoView {
    view! {
        <Title text="Not found" />
        <section class="card not-found">
            <h1>"Not found"</h1>
            <p>"There is no page at this address."</p>
            <A href="/">"Go home"</A>
        </section>
    }
}
