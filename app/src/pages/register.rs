use crate::components::form::action_error;
use crate::domain::{EMAIL_MAX_CHARS, PASSWORD_MIN_CHARS, USERNAME_MAX_CHARS};
use crate::session::use_session;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn RegisterPage() -> impl IntoView {
    let session = use_session();
    view! {
        <Title text="Register" />
        <section class="card form-card">
            <h1>"Register"</h1>
            <ActionForm action=session.register>
                {action_error(move || session.register.value().get())}
                <label for="register-username">"Username"</label>
                <input id="register-username" name="username" autocomplete="username" required
                    maxlength=USERNAME_MAX_CHARS.to_string() pattern="[A-Za-z0-9_.\\-]+"
                    title="Letters, digits, '_', '.' and '-'" />
                <label for="register-email">"Email"</label>
                <input id="register-email" name="email" type="email" autocomplete="email" required
                    maxlength=EMAIL_MAX_CHARS.to_string() />
                <label for="register-password">"Password"</label>
                <input id="register-password" name="password" type="password" autocomplete="new-password" required
                    minlength=PASSWORD_MIN_CHARS.to_string() />
                <label for="register-password2">"Repeat password"</label>
                <input id="register-password2" name="password2" type="password" autocomplete="new-password" required
                    minlength=PASSWORD_MIN_CHARS.to_string() />
                <button type="submit" class="button primary" disabled=session.register.pending()>"Register"</button>
            </ActionForm>
            <p class="muted">"Already registered? " <A href="/login">"Sign in"</A></p>
        </section>
    }
}
