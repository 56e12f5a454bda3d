//! The HTTP surface: `/health` (readiness), `/api/whoami` (proof that the runtime secrets
//! work) and the built frontend as static files.

use crate::config::{ANON_ROLE, Config, LoadError, Origin, Provenance, Source, environment_for};
use crate::jwt;
use crate::limit::Limiter;
use crate::log::{self, Level};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::ServeDir;

/// Everything the handlers read; built once at startup.
#[derive(Debug)]
pub struct AppState {
    /// The schema environment the config was checked against (`dev` or `production`).
    pub environment: &'static str,
    pub config: Result<(Config, Provenance), LoadError>,
    /// Non-secret facts the image build wrote (e.g. that the build secret was available).
    pub build_info: Option<Value>,
    limiter: Option<Limiter>,
}

impl AppState {
    pub fn load(src: &dyn Source, build_info: Option<Value>) -> Self {
        let environment = environment_for(src.var("NODE_ENV").as_deref());
        let config = Config::from_source(src, environment);
        let limiter = config.as_ref().ok().and_then(|(c, _)| match (c.rate_limit_max, c.rate_limit_window_ms) {
            (Some(max), Some(ms)) if ms > 0 => Some(Limiter::new(max, Duration::from_millis(ms))),
            _ => None,
        });
        AppState { environment, config, build_info, limiter }
    }

    pub fn config(&self) -> Option<&Config> {
        self.config.as_ref().ok().map(|(c, _)| c)
    }
}

pub fn router(state: Arc<AppState>, public_dir: &Path) -> Router {
    let api = Router::new()
        .route("/whoami", get(whoami).post(whoami))
        .layer(middleware::from_fn_with_state(state.clone(), rate_limit));
    let cors = state.config().and_then(|c| c.allowed_origins.as_deref()).map(cors_layer);
    let router = Router::new()
        .route("/health", get(health))
        .nest("/api", api)
        .fallback_service(ServeDir::new(public_dir))
        .with_state(state);
    match cors {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

fn cors_layer(origins: &[String]) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok())))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, HeaderName::from_static("apikey")])
}

/// Readiness: 200 only when the config loaded and every required secret is present; 503
/// naming what is missing or invalid otherwise. Names and origins only, never values.
async fn health(State(st): State<Arc<AppState>>) -> Response {
    match &st.config {
        Ok((_, provenance)) => {
            let sources: serde_json::Map<String, Value> =
                provenance.iter().map(|(name, origin)| (name.to_string(), Value::String(origin.to_string()))).collect();
            let body = json!({"status": "ok", "environment": st.environment, "config": "loaded", "sources": sources, "build": st.build_info});
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        Err(e) => {
            let missing: Vec<Value> =
                e.missing.iter().map(|m| json!({"name": m.name, "expected_in": m.expected_in})).collect();
            let invalid: Vec<Value> = e.invalid.iter().map(|i| json!({"name": i.name, "reason": i.reason})).collect();
            let body = json!({"status": "unavailable", "environment": st.environment, "config": "not loaded", "missing": missing, "invalid": invalid, "build": st.build_info});
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
        }
    }
}

/// Verifies the anon key the page sends (HS256 against `JWT_SECRET`, or ES256 against the
/// public JWK set `JWT_JWKS`) and reports how the database
/// password reached the server. Accepts `Authorization: Bearer`, Supabase's `apikey` header
/// or a JSON body `{"token": "..."}`.
async fn whoami(State(st): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok((config, provenance)) = &st.config else {
        return reply(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"verified": false, "error": "the server's config is not loaded; see /health"}),
        );
    };
    let Some(token) = token_from(&headers, &body) else {
        return reply(
            StatusCode::UNAUTHORIZED,
            json!({"verified": false, "error": "send the anon key as Authorization: Bearer <key>"}),
        );
    };
    let secret = config.jwt_secret.expose().as_bytes();
    let claims = match jwt::verify_supabase_key(&token, secret, config.jwt_jwks.as_deref(), unix_now()) {
        Ok(c) => c,
        Err(e) => {
            log::log(Level::Info, format_args!("whoami refused a token: {e}"));
            return reply(StatusCode::UNAUTHORIZED, json!({"verified": false, "error": e.to_string()}));
        }
    };
    let role = claims.role.unwrap_or_default();
    if role != ANON_ROLE {
        // A browser holding any other role's key is itself a leak worth flagging.
        let error =
            format!("this endpoint accepts only the {ANON_ROLE} key; a {role:?} key must never reach a browser");
        return reply(StatusCode::FORBIDDEN, json!({"verified": true, "role": role, "error": error}));
    }
    reply(
        StatusCode::OK,
        json!({"role": role, "verified": true, "db_password": db_password_report(config, provenance)}),
    )
}

fn reply(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn token_from(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(t) = header("authorization").and_then(|v| v.strip_prefix("Bearer ")) {
        return Some(t.trim().to_string());
    }
    if let Some(t) = header("apikey").filter(|t| !t.is_empty()) {
        return Some(t.to_string());
    }
    let v: Value = serde_json::from_slice(body).ok()?;
    v.get("token")?.as_str().map(str::to_string)
}

/// Where the DB password came from and whether `DATABASE_URL` carries that same password:
/// booleans and a path, never the password.
fn db_password_report(config: &Config, provenance: &Provenance) -> Value {
    let (delivery, path) = match provenance.get("POSTGRES_PASSWORD") {
        Some(Origin::File(p)) => ("file", Some(p.display().to_string())),
        Some(Origin::Env) => ("env", None),
        None => ("none", None),
    };
    let url_matches = config
        .database_url
        .as_ref()
        .map(|url| url_password(url.expose()).as_deref() == Some(config.postgres_password.expose()));
    json!({"read": !config.postgres_password.expose().is_empty(), "delivery": delivery, "path": path, "database_url_matches": url_matches})
}

/// The percent-decoded password of a `postgres://user:password@host/db` URL.
fn url_password(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let userinfo = rest.rsplit_once('@')?.0;
    let raw = userinfo.split_once(':')?.1;
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next()?, bytes.next()?];
            out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

async fn rate_limit(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if let Some(limiter) = &st.limiter {
        let client = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        if let Err(retry) = limiter.check(client, Instant::now()) {
            let mut resp = reply(StatusCode::TOO_MANY_REQUESTS, json!({"error": "rate limit reached; retry later"}));
            let secs = retry.as_secs().max(1).to_string();
            if let Ok(v) = HeaderValue::from_str(&secs) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return resp;
        }
    }
    next.run(req).await
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_password_is_percent_decoded() {
        assert_eq!(url_password("postgres://app:p%40ss@db:5432/app").as_deref(), Some("p@ss"));
        assert_eq!(url_password("postgres://app:abc-_12@db/app").as_deref(), Some("abc-_12"));
        assert_eq!(url_password("postgres://db/app"), None);
    }
}
