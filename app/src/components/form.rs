//! Pieces every form shares.

use crate::error::AppError;
use leptos::prelude::*;

/// The error of a form's last submission, as an alert above the form.
pub fn action_error<T>(
    last_result: impl Fn() -> Option<Result<T, AppError>> + Copy + 'static,
) -> impl Fn() -> Option<AnyView> + Copy {
    move || {
        last_result().and_then(Result::err).map(|error| {
            view! { <p class="form-error" role="alert">{error.to_string()}</p> }.into_any()
        })
    }
}
