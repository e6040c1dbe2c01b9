//! The bearer token kubectl presents to the proxy: who, which cluster and seal token, until
//! when, signed with the identity's key as a Sui personal message. The proxy accepts only
//! tokens its own identity signed, so another local user's process cannot use it.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};
use sui_crypto::ed25519::{Ed25519PrivateKey, Ed25519VerifyingKey};
use sui_crypto::{SuiSigner, SuiVerifier};
use sui_sdk_types::Ed25519PublicKey;
use sui_sdk_types::{Address, PersonalMessage, UserSignature};

/// How every token starts: names the format and its version.
pub const BEARER_PREFIX: &str = "kubectl-sui.v1.";

/// What a bearer token asserts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BearerToken {
    /// The identity.
    pub address: Address,
    /// The cluster object.
    pub cluster: Address,
    /// The seal token requests are authorised with.
    pub seal_token: Address,
    /// Expiry, ms since the epoch.
    pub expires_ms: u64,
}

/// Why a bearer token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BearerError {
    /// No `Authorization: Bearer` header.
    #[error("no bearer token; use the kubeconfig context `kubectl sui login` wrote")]
    Missing,
    /// Not this format.
    #[error("the bearer token is not a kubectl-sui token")]
    Malformed,
    /// Signed by another key.
    #[error("the bearer token is not signed by this proxy's identity")]
    BadSignature,
    /// Expired.
    #[error("the bearer token expired")]
    Expired,
    /// For another cluster or seal token.
    #[error("the bearer token is for another cluster or seal token; run `kubectl sui login` again")]
    WrongScope,
}

impl BearerToken {
    /// The token as the `Authorization: Bearer` value, signed by `key`.
    pub fn sign(&self, key: &Ed25519PrivateKey) -> String {
        let payload = bcs::to_bytes(self).expect("a bearer token encodes");
        let signature = key
            .sign_personal_message(&PersonalMessage(payload.as_slice().into()))
            .expect("Ed25519 signing does not fail");
        format!(
            "{BEARER_PREFIX}{}.{}",
            Base64UrlUnpadded::encode_string(&payload),
            Base64UrlUnpadded::encode_string(&signature.to_bytes())
        )
    }

    /// Checks `token` was signed by `key`, is unexpired at `now_ms`, and is for `expected`'s
    /// cluster and seal token.
    pub fn verify(
        token: &str,
        key: &Ed25519PublicKey,
        expected: (Address, Address),
        now_ms: u64,
    ) -> Result<BearerToken, BearerError> {
        let rest = token.strip_prefix(BEARER_PREFIX).ok_or(BearerError::Malformed)?;
        let (payload, signature) = rest.split_once('.').ok_or(BearerError::Malformed)?;
        let payload = Base64UrlUnpadded::decode_vec(payload).map_err(|_| BearerError::Malformed)?;
        let signature = Base64UrlUnpadded::decode_vec(signature).map_err(|_| BearerError::Malformed)?;
        let signature = UserSignature::from_bytes(&signature).map_err(|_| BearerError::Malformed)?;
        // Checks the signature's embedded public key is `key`, then the signature.
        Ed25519VerifyingKey::new(key)
            .and_then(|v| v.verify_personal_message(&PersonalMessage(payload.as_slice().into()), &signature))
            .map_err(|_| BearerError::BadSignature)?;
        let bearer: BearerToken = bcs::from_bytes(&payload).map_err(|_| BearerError::Malformed)?;
        if bearer.expires_ms <= now_ms {
            return Err(BearerError::Expired);
        }
        if (bearer.cluster, bearer.seal_token) != expected || bearer.address != key.derive_address() {
            return Err(BearerError::WrongScope);
        }
        Ok(bearer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(key: &Ed25519PrivateKey, expires_ms: u64) -> BearerToken {
        BearerToken {
            address: key.public_key().derive_address(),
            cluster: Address::from([1; 32]),
            seal_token: Address::from([2; 32]),
            expires_ms,
        }
    }

    #[test]
    fn verifies_only_its_own_unexpired_in_scope_tokens() {
        let key = Ed25519PrivateKey::generate(rand_core::OsRng);
        let other = Ed25519PrivateKey::generate(rand_core::OsRng);
        let scope = (Address::from([1; 32]), Address::from([2; 32]));
        let signed = token(&key, 2_000).sign(&key);
        assert!(signed.starts_with(BEARER_PREFIX));
        assert_eq!(BearerToken::verify(&signed, &key.public_key(), scope, 1_000).unwrap(), token(&key, 2_000));
        assert_eq!(BearerToken::verify(&signed, &key.public_key(), scope, 2_000), Err(BearerError::Expired));
        assert_eq!(BearerToken::verify(&signed, &other.public_key(), scope, 1_000), Err(BearerError::BadSignature));
        let elsewhere = (Address::from([3; 32]), scope.1);
        assert_eq!(BearerToken::verify(&signed, &key.public_key(), elsewhere, 1_000), Err(BearerError::WrongScope));
        let forged = token(&key, 9_000).sign(&other);
        assert_eq!(BearerToken::verify(&forged, &key.public_key(), scope, 1_000), Err(BearerError::BadSignature));
        let (head, sig) = signed.rsplit_once('.').unwrap();
        let extended = format!(
            "{BEARER_PREFIX}{}.{sig}",
            Base64UrlUnpadded::encode_string(&bcs::to_bytes(&token(&key, 9_000)).unwrap())
        );
        assert_ne!(extended, format!("{head}.{sig}"));
        assert_eq!(BearerToken::verify(&extended, &key.public_key(), scope, 1_000), Err(BearerError::BadSignature));
        assert_eq!(BearerToken::verify("abc", &key.public_key(), scope, 1_000), Err(BearerError::Malformed));
    }
}
