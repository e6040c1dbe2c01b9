//! Every abort of the contract: its module, constant, code, and what it means to a kubectl
//! user, with the HTTP status and Kubernetes `Status` reason the proxy answers with.

/// One abort constant of the Move package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortCode {
    /// Which abort it is, as a type.
    pub kind: Abort,
    /// Move module that defines and raises it.
    pub module: &'static str,
    /// The constant's name.
    pub name: &'static str,
    /// The abort code.
    pub code: u64,
    /// HTTP status of the Kubernetes `Status` the proxy answers with.
    pub http_status: u16,
    /// The `Status.reason` (`Forbidden`, `BadRequest`, ...).
    pub reason: &'static str,
    /// A sentence for the user: what happened and what to do next.
    pub meaning: &'static str,
}

const fn abort(
    kind: Abort,
    module: &'static str,
    name: &'static str,
    code: u64,
    http_status: u16,
    reason: &'static str,
    meaning: &'static str,
) -> AbortCode {
    AbortCode { kind, module, name, code, http_status, reason, meaning }
}

const FORBIDDEN: (u16, &str) = (403, "Forbidden");
const BAD_REQUEST: (u16, &str) = (400, "BadRequest");
const CONFLICT: (u16, &str) = (409, "Conflict");
const NOT_FOUND: (u16, &str) = (404, "NotFound");
const UNAVAILABLE: (u16, &str) = (503, "ServiceUnavailable");

macro_rules! aborts {
    ($($module:literal $name:ident = $code:literal, $kind:ident, $meaning:literal;)*) => {
        /// Every abort of the contract, by its constant's name: what Rust code matches on and
        /// raises (the devnet's natives), never a string.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[allow(clippy::enum_variant_names)]
        pub enum Abort {
            $(
                #[doc = $meaning]
                $name,
            )*
        }

        /// The whole table, in code order (the order of [`Abort`]'s variants).
        pub const ABORT_CODES: &[AbortCode] = &[
            $(abort(Abort::$name, $module, stringify!($name), $code, $kind.0, $kind.1, $meaning),)*
        ];
    };
}

impl Abort {
    /// Its row of the table: module, code, status, meaning.
    pub fn info(self) -> &'static AbortCode {
        &ABORT_CODES[self as usize]
    }
}

aborts! {
    "cluster" ENotClusterAdmin = 1, FORBIDDEN,
        "the admin capability used belongs to another cluster; use the capability of this cluster's admin";
    "cluster" EInvalidPolicy = 2, BAD_REQUEST,
        "the cluster policy is invalid: the token lifetime must be positive and the self-service role none, view, edit or admin";
    "cluster" EInvalidKey = 3, BAD_REQUEST,
        "a node key is not 32 bytes (Ed25519 for signing, X25519 for sealing)";
    "cluster" ENodeKeyMismatch = 4, BAD_REQUEST,
        "the node address is not the Sui address of its Ed25519 signing key";
    "cluster" EDebugNodesForbidden = 5, FORBIDDEN,
        "the cluster policy forbids debug (unattested) nodes; allow them with `kubectl sui cluster policy --allow-debug-nodes`";
    "cluster" ENodeAlreadyRegistered = 6, CONFLICT,
        "the node is already registered on this cluster";
    "cluster" ENodeNotRegistered = 7, BAD_REQUEST,
        "the address is not a registered node of this cluster; register it with `kubectl sui cluster node add`";
    "cluster" EWrongVersion = 8, CONFLICT,
        "the cluster object is at another version of the contract than this package: use the package it was migrated to (kubectl sui contract publish records it), or, as its admin, migrate it";
    "cluster" EAttestationKey = 60, BAD_REQUEST,
        "the attestation document carries no Ed25519 public key for the node; run `nautilus attest` inside the enclave, which puts it there";
    "cluster" EStaleAttestation = 61, BAD_REQUEST,
        "the attestation document is older than 10 minutes or ahead of the chain's clock; obtain a fresh one (`nautilus attest`) and register at once";
    "cluster" EUnknownEnclave = 62, FORBIDDEN,
        "the enclave's measurements (PCRs) match no image the cluster accepts; the admin adds it with `kubectl sui cluster enclave add`";
    "cluster" EInvalidMeasurement = 63, BAD_REQUEST,
        "an enclave measurement needs PCR0, PCR1 and PCR2, 48-byte values, each index once, and must not be accepted already";
    "cluster" EAttestationForOtherCluster = 64, FORBIDDEN,
        "the attestation document was made for another cluster (its nonce names that cluster's id)";
    "cluster" EMeasurementNotFound = 65, NOT_FOUND,
        "the cluster accepts no such enclave measurement; list them with `kubectl sui cluster policy`";
    "cluster" EAttestationNonceMissing = 66, FORBIDDEN,
        "the attestation document carries no challenge (a nonce naming this cluster), which the cluster requires; run `nautilus attest`, which puts it there, or (admin) `kubectl sui cluster enclave challenge optional` for an image that cannot";
    "cluster" EInvalidAuditors = 67, BAD_REQUEST,
        "the auditor keys are invalid: each must be an X25519 public key of 32 bytes, named once, at most 8 of them; make one with `kubectl sui audit keygen`";
    "access" EInvalidVerb = 10, BAD_REQUEST,
        "the request's verb is not a Kubernetes verb";
    "access" EInvalidRole = 11, BAD_REQUEST,
        "the role is not one of none, view, edit or admin";
    "access" EMalformedRules = 12, BAD_REQUEST,
        "the permission rules are empty or malformed: each needs verbs, API groups, resources and namespaces";
    "seal_token" EWrongCluster = 20, FORBIDDEN,
        "the seal token belongs to another cluster; run `kubectl sui login --cluster` for this one";
    "seal_token" ENotTokenOwner = 21, FORBIDDEN,
        "the seal token is bound to another address than the key signing this request; run `kubectl sui login` with your key";
    "seal_token" ETokenExpired = 22, FORBIDDEN,
        "the seal token has expired; run `kubectl sui login` to renew it";
    "seal_token" ETokenRevoked = 23, FORBIDDEN,
        "the cluster admin revoked this seal token; ask the admin, or stake for a new one with `kubectl sui login`";
    "seal_token" EPermissionDenied = 24, FORBIDDEN,
        "the seal token lacks this permission; ask the cluster admin: kubectl sui cluster grant";
    "seal_token" EInsufficientStake = 25, FORBIDDEN,
        "writes need the cluster's minimum stake; add stake with `kubectl sui login --stake`";
    "seal_token" ERoleNotSelfService = 26, FORBIDDEN,
        "the cluster does not grant this role without its admin; ask for a lower role or for `kubectl sui cluster grant`";
    "seal_token" EStakeLocked = 27, CONFLICT,
        "the stake is still locked by the cluster policy; try again after the lock period";
    "seal_token" ESlashingDisabled = 28, FORBIDDEN,
        "the cluster policy does not allow slashing";
    "seal_token" ESlashExceedsStake = 29, BAD_REQUEST,
        "the slash amount is larger than the token's stake";
    "request" ENodeNotActive = 40, UNAVAILABLE,
        "the cluster's node is not registered or not allowed to answer; check `kubectl sui status`";
    "request" EUnknownSealingKey = 41, CONFLICT,
        "the request was sealed to a node key the cluster no longer accepts; retry to use the current key";
    "request" EInvalidDigest = 42, BAD_REQUEST,
        "a body digest is not 32 bytes";
    "request" EInvalidReplyKey = 43, BAD_REQUEST,
        "the reply key is not a 32-byte X25519 public key";
    "request" EFieldTooLong = 44, BAD_REQUEST,
        "the API group, resource, namespace or name is longer than 253 bytes";
    "request" ETooManyChunks = 45, BAD_REQUEST,
        "more body chunks were sent than announced, or the body exceeds 4096 chunks";
    "request" ENotRequester = 46, FORBIDDEN,
        "only the requester may add to or cancel this request";
    "request" ENotAddressedNode = 47, FORBIDDEN,
        "only the node the request is addressed to may answer it";
    "request" ERequestIncomplete = 48, CONFLICT,
        "the request body is not fully uploaded yet";
    "request" EAlreadyAnswered = 49, CONFLICT,
        "the request already has a response";
    "request" ENotAnswered = 50, CONFLICT,
        "the request has no response yet";
    "request" EResponseIncomplete = 51, CONFLICT,
        "not all response chunks were sent yet";
    "request" EClusterMismatch = 52, BAD_REQUEST,
        "the cluster given is not the request's cluster";
    "request" ERequestStarted = 53, CONFLICT,
        "the node has already started running the request, so it can no longer be cancelled (or started again)";
    "request" ENotStreaming = 54, CONFLICT,
        "the request is not an open stream";
    "request" EStreaming = 55, CONFLICT,
        "the request is a stream: it ends with end_stream or hang_up";
    "request" EInvalidEndReason = 56, BAD_REQUEST,
        "a node gave a stream end reason that is not one of the contract's";
    "request" EInvalidInputIndex = 57, BAD_REQUEST,
        "a session's input frame index is past the most frames one session carries";
}

/// The abort raised by `module` with `code`, if the contract defines it.
pub fn lookup_abort(module: &str, code: u64) -> Option<&'static AbortCode> {
    ABORT_CODES.iter().find(|a| a.module == module && a.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_across_the_package() {
        let codes: HashSet<u64> = ABORT_CODES.iter().map(|a| a.code).collect();
        assert_eq!(codes.len(), ABORT_CODES.len());
    }

    #[test]
    fn lookup_needs_the_right_module() {
        let a = lookup_abort("seal_token", 24).expect("EPermissionDenied");
        assert_eq!((a.name, a.http_status, a.reason), ("EPermissionDenied", 403, "Forbidden"));
        assert!(lookup_abort("request", 24).is_none());
    }

    #[test]
    fn each_variant_is_its_own_row() {
        for (i, a) in ABORT_CODES.iter().enumerate() {
            assert_eq!(a.kind as usize, i);
            assert_eq!(a.kind.info().name, a.name);
            assert_eq!(format!("{:?}", a.kind), a.name);
        }
    }

    #[test]
    fn every_meaning_is_a_user_sentence() {
        for a in ABORT_CODES {
            assert!(!a.meaning.is_empty() && !a.meaning.ends_with('.'), "{}", a.name);
            assert!((400..600).contains(&a.http_status), "{}", a.name);
        }
    }
}
