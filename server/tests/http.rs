//! The router end to end without a socket: readiness, the anon-key check, CORS and the
//! rate limit, with canary secrets that must never appear in an answer.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::Value;
use server::app::{AppState, router};
use server::config::MapSource;
use std::sync::Arc;
use tower::ServiceExt as _;

async fn call(state: &Arc<AppState>, req: Request<Body>) -> (StatusCode, Value, axum::http::HeaderMap) {
    let public = tempfile::tempdir().unwrap();
    let resp = router(state.clone(), public.path()).oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).to_string();
    common::assert_no_canary(&text);
    (parts.status, serde_json::from_str(&text).unwrap_or(Value::Null), parts.headers)
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

fn whoami(token: &str) -> Request<Body> {
    Request::get("/api/whoami").header("authorization", format!("Bearer {token}")).body(Body::empty()).unwrap()
}

fn loaded() -> Arc<AppState> {
    Arc::new(AppState::load(&common::production_source(), Some(serde_json::json!({"npm_token_used": true}))))
}

#[tokio::test]
async fn health_is_503_naming_missing_secrets_and_200_once_they_are_present() {
    let mut src = common::production_source();
    src.vars.remove("JWT_SECRET");
    src.files.clear();
    let (status, body, _) = call(&Arc::new(AppState::load(&src, None)), get("/health")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let names: Vec<&str> = body["missing"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["JWT_SECRET", "POSTGRES_PASSWORD"]);
    assert_eq!(body["missing"][1]["expected_in"], "/run/secrets/postgres_password");

    let (status, body, _) = call(&loaded(), get("/health")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["environment"], "production");
    assert_eq!(body["sources"]["POSTGRES_PASSWORD"], "file:/run/secrets/postgres_password");
    assert_eq!(body["build"]["npm_token_used"], true);
}

#[tokio::test]
async fn whoami_verifies_the_anon_key_and_reports_the_file_delivered_password() {
    let state = loaded();
    let (status, body, _) = call(&state, whoami(&common::anon_key(common::JWT_SECRET))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["role"], "anon");
    assert_eq!(body["verified"], true);
    assert_eq!(body["db_password"]["delivery"], "file");
    assert_eq!(body["db_password"]["read"], true);
    assert_eq!(body["db_password"]["database_url_matches"], true);

    // The same request as a POST with a JSON body.
    let body_req = format!(r#"{{"token":"{}"}}"#, common::anon_key(common::JWT_SECRET));
    let req =
        Request::post("/api/whoami").header("content-type", "application/json").body(Body::from(body_req)).unwrap();
    assert_eq!(call(&state, req).await.0, StatusCode::OK);
}

#[tokio::test]
async fn whoami_refuses_a_key_signed_with_another_secret_a_service_key_and_no_key() {
    let state = loaded();
    let (status, body, _) = call(&state, whoami(&common::anon_key("another-secret-0123456789abcdef0123"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["verified"], false);
    assert!(body["error"].as_str().unwrap().contains("JWT_SECRET"));

    let (status, body, _) = call(&state, whoami(&common::service_role_key(common::JWT_SECRET))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["role"], "service_role");

    assert_eq!(call(&state, get("/api/whoami")).await.0, StatusCode::UNAUTHORIZED);

    let mut src = common::production_source();
    src.vars.remove("JWT_SECRET");
    let unready = Arc::new(AppState::load(&src, None));
    assert_eq!(call(&unready, whoami(&common::anon_key(common::JWT_SECRET))).await.0, StatusCode::SERVICE_UNAVAILABLE);
}

/// The server with the public JWK set of the sample signing key, as `secrets gen` writes it.
fn with_jwks(jwks: Option<String>) -> Arc<AppState> {
    let mut src = common::production_source();
    match jwks {
        Some(jwks) => src.vars.insert("JWT_JWKS".into(), jwks),
        None => src.vars.remove("JWT_JWKS"),
    };
    Arc::new(AppState::load(&src, None))
}

#[tokio::test]
async fn whoami_verifies_es256_keys_against_the_public_jwks_and_still_hs256_ones() {
    use envfile::sample::{FAR_FUTURE, JWT_KEYS, jwt_jwks, supabase_key_es256};
    let state = with_jwks(Some(jwt_jwks()));
    let anon = supabase_key_es256("anon", JWT_KEYS, FAR_FUTURE);
    let (status, body, _) = call(&state, whoami(&anon)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["role"].as_str(), body["verified"].as_bool()), (Some("anon"), Some(true)));
    // The legacy key keeps working beside it.
    let (status, body, _) = call(&state, whoami(&common::anon_key(common::JWT_SECRET))).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let service = supabase_key_es256("service_role", JWT_KEYS, FAR_FUTURE);
    let (status, body, _) = call(&state, whoami(&service)).await;
    assert_eq!((status, body["role"].as_str()), (StatusCode::FORBIDDEN, Some("service_role")));

    // A forged payload under the real signature, an expired key, a kid the set lacks.
    let parts: Vec<&str> = anon.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], secretkit::base64url(br#"{"role":"anon","exp":4102444801}"#), parts[2]);
    let (status, body, _) = call(&state, whoami(&forged)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["error"].as_str().unwrap().contains("JWT_JWKS"), "{body}");
    let expired = supabase_key_es256("anon", JWT_KEYS, 1_000);
    assert_eq!(call(&state, whoami(&expired)).await.0, StatusCode::UNAUTHORIZED);
    let other_kid = with_jwks(Some(jwt_jwks().replace("sample-key-1", "another-key")));
    let (status, body, _) = call(&other_kid, whoami(&anon)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["error"].as_str().unwrap().contains("kid"), "{body}");

    // No JWT_JWKS, or one holding private keys: ES256 keys are refused, never trusted.
    for state in [with_jwks(None), with_jwks(Some(format!(r#"{{"keys":{JWT_KEYS}}}"#)))] {
        let (status, body, _) = call(&state, whoami(&anon)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["verified"], false);
    }
}

#[tokio::test]
async fn cors_allows_only_the_configured_origins() {
    let state = loaded();
    let preflight = |origin: &str| {
        Request::options("/api/whoami")
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .body(Body::empty())
            .unwrap()
    };
    let (_, _, headers) = call(&state, preflight("https://app.example.com")).await;
    assert_eq!(headers.get("access-control-allow-origin").unwrap(), "https://app.example.com");
    let (_, _, headers) = call(&state, preflight("https://evil.example")).await;
    assert!(headers.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn the_api_is_rate_limited_per_the_config() {
    let mut src: MapSource = common::production_source();
    src.vars.insert("RATE_LIMIT_MAX".into(), "2".into());
    let state = Arc::new(AppState::load(&src, None));
    let token = common::anon_key(common::JWT_SECRET);
    assert_eq!(call(&state, whoami(&token)).await.0, StatusCode::OK);
    assert_eq!(call(&state, whoami(&token)).await.0, StatusCode::OK);
    let (status, _, headers) = call(&state, whoami(&token)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(headers.contains_key("retry-after"));
    assert_eq!(call(&state, get("/health")).await.0, StatusCode::OK, "health is not rate limited");
}

#[tokio::test]
async fn the_built_frontend_is_served() {
    let public = tempfile::tempdir().unwrap();
    std::fs::write(public.path().join("index.html"), "<div id=\"status\"></div>").unwrap();
    let resp = router(loaded(), public.path()).oneshot(get("/")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&bytes).contains("id=\"status\""));
}
