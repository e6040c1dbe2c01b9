//! The proxy's TLS identity: a CA generated for one login, whose certificate kubeconfig
//! trusts, and a loopback serving certificate it signed. The CA key is discarded once the
//! serving certificate is signed, so nothing on disk can mint another certificate kubectl
//! would trust. client-go speaks HTTP/2 only over TLS, hence TLS on loopback at all.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, SanType};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::ProxyError;
use crate::fs::{create_private_dir, write_atomic};

const CA_FILE: &str = "ca.crt";
const CERT_FILE: &str = "tls.crt";
const KEY_FILE: &str = "tls.key";

/// The PEM files of a proxy's TLS identity.
#[derive(Debug, Clone)]
pub struct ProxyTls {
    /// The CA certificate kubeconfig trusts.
    pub ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

fn tls_error(e: impl std::fmt::Display) -> ProxyError {
    ProxyError::Tls(e.to_string())
}

impl ProxyTls {
    /// The identity stored in `dir`, generated there first if missing.
    pub fn load_or_create(dir: &Path) -> Result<ProxyTls, ProxyError> {
        let read = |name| std::fs::read_to_string(dir.join(name));
        if let (Ok(ca_pem), Ok(cert_pem), Ok(key_pem)) = (read(CA_FILE), read(CERT_FILE), read(KEY_FILE)) {
            return Ok(ProxyTls { ca_pem, cert_pem, key_pem });
        }
        let tls = ProxyTls::generate()?;
        create_private_dir(dir)?;
        write_atomic(&dir.join(KEY_FILE), tls.key_pem.as_bytes(), 0o600)?;
        write_atomic(&dir.join(CERT_FILE), tls.cert_pem.as_bytes(), 0o644)?;
        write_atomic(&dir.join(CA_FILE), tls.ca_pem.as_bytes(), 0o644)?;
        Ok(tls)
    }

    fn generate() -> Result<ProxyTls, ProxyError> {
        let ca_key = KeyPair::generate().map_err(tls_error)?;
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(tls_error)?;
        ca.distinguished_name.push(DnType::CommonName, "kubectl-sui local proxy CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        let ca_cert = ca.self_signed(&ca_key).map_err(tls_error)?;
        let issuer = Issuer::new(ca, &ca_key);
        let key = KeyPair::generate().map_err(tls_error)?;
        let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).map_err(tls_error)?;
        leaf.subject_alt_names.push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        leaf.subject_alt_names.push(SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        leaf.distinguished_name.push(DnType::CommonName, "kubectl-sui proxy");
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = leaf.signed_by(&key, &issuer).map_err(tls_error)?;
        Ok(ProxyTls { ca_pem: ca_cert.pem(), cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }

    /// A rustls server configuration offering HTTP/2 and HTTP/1.1.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, ProxyError> {
        let certs = CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
            .chain(CertificateDer::pem_slice_iter(self.ca_pem.as_bytes()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(tls_error)?;
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).map_err(tls_error)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(tls_error)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}
