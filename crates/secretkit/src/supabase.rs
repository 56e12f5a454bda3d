//! Supabase's key formats: the opaque `sb_publishable_`/`sb_secret_` API keys and the
//! asymmetric (ES256) configuration of a self-hosted installation.

mod opaque;
mod self_hosted;

pub use opaque::{
    OpaqueKeyError, OpaqueKind, SELF_HOSTED_PROJECT_REF, check_opaque_key, generate_opaque_key, parse_opaque_key,
};
pub use self_hosted::{
    API_KEY_ISSUER, API_KEY_LIFETIME_SECS, ApiKeyClaims, KeygenError, SelfHostedKeys, jwt_jwks, jwt_keys,
    sign_api_key_es256, sign_api_key_hs256,
};
