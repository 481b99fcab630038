//! Requests run to the end even when the client goes away.
//!
//! hyper drops a request's future when its connection closes, and a future dropped halfway
//! through `BEGIN … COMMIT` leaves sqlx and PostgreSQL disagreeing about the transaction: the
//! benchmark saw pooled connections handed out still inside a transaction that a closed
//! connection had begun, so the next request's statements ran inside it. People close tabs
//! mid-request all the time. Running each request as its own task means a disconnect only
//! discards the response, and a panic becomes a 500 instead of a dropped connection.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub async fn run_to_completion(request: Request, next: Next) -> Response {
    match tokio::spawn(next.run(request)).await {
        Ok(response) => response,
        Err(error) => {
            tracing::error!(%error, "a request failed unexpectedly");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side. Please try again.",
            )
                .into_response()
        }
    }
}
