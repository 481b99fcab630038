use crate::account::profile_form;
use crate::components::form::action_error;
use crate::components::notice::use_notices;
use crate::domain::{ABOUT_ME_MAX_CHARS, USERNAME_MAX_CHARS};
use crate::error::AppError;
use crate::session::use_session;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

#[component]
pub fn EditProfilePage() -> impl IntoView {
    let session = use_session();
    let action = session.edit_profile;
    let current = Resource::new(move || action.version().get(), |_| profile_form());
    let notices = use_notices();
    Effect::new(move |_| {
        if let Some(Ok(saved)) = action.value().get() {
            notices.success(saved);
        }
    });
    view! {
        <Title text="Edit profile" />
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match current.await {
                    Ok(form) => view! {
                        <section class="card form-card">
                            <h1>"Edit your profile"</h1>
                            <ActionForm action>
                                {action_error(move || action.value().get())}
                                <label for="edit-username">"Username"</label>
                                <input id="edit-username" name="username" value=form.username required
                                    maxlength=USERNAME_MAX_CHARS.to_string() />
                                <label for="edit-about">"About me"</label>
                                <textarea id="edit-about" name="about_me" rows="3"
                                    maxlength=ABOUT_ME_MAX_CHARS.to_string()>{form.about_me}</textarea>
                                <button type="submit" class="button primary" disabled=action.pending()>"Save"</button>
                            </ActionForm>
                        </section>
                    }
                        .into_any(),
                    Err(AppError::Unauthorized(_)) => view! { <Redirect path="/login?next=/edit_profile" /> }.into_any(),
                    Err(error) => view! { <p class="notice error">{error.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}
