//! JSON Web Tokens with SimpleJWT's claims (`token_type`, `exp`, `iat`, `jti`, `user_id`),
//! plus `ver`, the user's token version: a password change bumps it and so revokes every
//! token issued before.

use iaso_domain::UserId;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub token_type: TokenType,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub user_id: i64,
    pub ver: i64,
}

#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    pub access_lifetime: i64,
    pub refresh_lifetime: i64,
}

impl JwtKeys {
    pub fn new(secret: &str, access_lifetime: i64, refresh_lifetime: i64) -> Self {
        JwtKeys {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            access_lifetime,
            refresh_lifetime,
        }
    }

    pub fn issue(
        &self,
        user: UserId,
        version: i64,
        kind: TokenType,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = chrono::Utc::now().timestamp();
        let lifetime = match kind {
            TokenType::Access => self.access_lifetime,
            TokenType::Refresh => self.refresh_lifetime,
        };
        let claims = Claims {
            token_type: kind,
            exp: now + lifetime,
            iat: now,
            jti: uuid::Uuid::new_v4().simple().to_string(),
            user_id: user.get(),
            ver: version,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// The claims of a valid, unexpired token of the given type.
    pub fn verify(&self, token: &str, kind: TokenType) -> Option<Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp"]);
        let data = decode::<Claims>(token, &self.decoding, &validation).ok()?;
        (data.claims.token_type == kind).then_some(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_refuse_tampering() {
        let keys = JwtKeys::new("secret", 60, 120);
        let t = keys
            .issue(UserId(7), 3, TokenType::Access)
            .unwrap_or_default();
        let claims = keys.verify(&t, TokenType::Access);
        assert_eq!(claims.as_ref().map(|c| (c.user_id, c.ver)), Some((7, 3)));
        assert!(
            keys.verify(&t, TokenType::Refresh).is_none(),
            "type is checked"
        );
        let other = JwtKeys::new("other", 60, 120);
        assert!(
            other.verify(&t, TokenType::Access).is_none(),
            "signature is checked"
        );
        let expired = JwtKeys::new("secret", -10, -10)
            .issue(UserId(7), 3, TokenType::Access)
            .unwrap_or_default();
        assert!(
            keys.verify(&expired, TokenType::Access).is_none(),
            "expiry is checked"
        );
    }
}
