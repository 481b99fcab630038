use crate::components::form::action_error;
use crate::session::use_session;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let session = use_session();
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_else(|| "/".into());
    view! {
        <Title text="Sign in" />
        <section class="card form-card">
            <h1>"Sign in"</h1>
            <ActionForm action=session.login>
                {action_error(move || session.login.value().get())}
                <input type="hidden" name="next" value=next />
                <label for="login-username">"Username"</label>
                <input id="login-username" name="username" autocomplete="username" required maxlength="64" />
                <label for="login-password">"Password"</label>
                <input id="login-password" name="password" type="password" autocomplete="current-password" required />
                <button type="submit" class="button primary" disabled=session.login.pending()>"Sign in"</button>
            </ActionForm>
            <p class="muted">"New to Microblog? " <A href="/register">"Create an account"</A></p>
        </section>
    }
}
