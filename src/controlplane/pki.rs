//! Certificates and keys of a local control plane, freshly generated for each one.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SanType,
};

use super::error::ControlPlaneError;

/// The first address of the service range, which the `kubernetes` Service gets.
pub const SERVICE_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

/// Paths of the generated PEM files.
#[derive(Debug, Clone)]
pub struct Pki {
    /// CA certificate (trusted by clients, and the client CA of the API server).
    pub ca_cert: PathBuf,
    /// API server serving certificate and key.
    pub serving_cert: PathBuf,
    /// Key of [`Pki::serving_cert`].
    pub serving_key: PathBuf,
    /// Admin client certificate (`system:masters`).
    pub admin_cert: PathBuf,
    /// Key of [`Pki::admin_cert`].
    pub admin_key: PathBuf,
    /// Service-account token signing key.
    pub service_account_key: PathBuf,
    /// Public half of [`Pki::service_account_key`], which the API server verifies with.
    pub service_account_public_key: PathBuf,
}

fn cert_error(what: &'static str) -> impl FnOnce(rcgen::Error) -> ControlPlaneError {
    move |source| ControlPlaneError::Certificate { what, source }
}

impl Pki {
    /// Generates a CA, a serving certificate for loopback, an admin client certificate and a
    /// service-account key, and writes them under `dir`.
    pub fn generate(dir: &Path) -> Result<Pki, ControlPlaneError> {
        let ca_key = KeyPair::generate().map_err(cert_error("CA key"))?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(cert_error("CA"))?;
        ca_params.distinguished_name.push(DnType::CommonName, "kubectl-sui local control plane CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca_cert = ca_params.self_signed(&ca_key).map_err(cert_error("CA"))?;
        let issuer = Issuer::new(ca_params, &ca_key);

        let serving_key = KeyPair::generate().map_err(cert_error("serving key"))?;
        let names = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"];
        let mut serving =
            CertificateParams::new(names.map(String::from).to_vec()).map_err(cert_error("serving certificate"))?;
        serving.subject_alt_names.push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        serving.subject_alt_names.push(SanType::IpAddress(IpAddr::V4(SERVICE_IP)));
        serving.distinguished_name.push(DnType::CommonName, "kube-apiserver");
        serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let serving_cert = serving.signed_by(&serving_key, &issuer).map_err(cert_error("serving certificate"))?;

        let admin_key = KeyPair::generate().map_err(cert_error("admin key"))?;
        let mut admin = CertificateParams::new(Vec::<String>::new()).map_err(cert_error("admin certificate"))?;
        admin.distinguished_name.push(DnType::CommonName, "admin");
        admin.distinguished_name.push(DnType::OrganizationName, "system:masters");
        admin.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let admin_cert = admin.signed_by(&admin_key, &issuer).map_err(cert_error("admin certificate"))?;

        let service_account_key = KeyPair::generate().map_err(cert_error("service-account key"))?;

        let pki = Pki {
            ca_cert: dir.join("ca.crt"),
            serving_cert: dir.join("apiserver.crt"),
            serving_key: dir.join("apiserver.key"),
            admin_cert: dir.join("admin.crt"),
            admin_key: dir.join("admin.key"),
            service_account_key: dir.join("service-account.key"),
            service_account_public_key: dir.join("service-account.pub"),
        };
        for (path, pem) in [
            (&pki.ca_cert, ca_cert.pem()),
            (&pki.serving_cert, serving_cert.pem()),
            (&pki.serving_key, serving_key.serialize_pem()),
            (&pki.admin_cert, admin_cert.pem()),
            (&pki.admin_key, admin_key.serialize_pem()),
            (&pki.service_account_key, service_account_key.serialize_pem()),
            (&pki.service_account_public_key, service_account_key.public_key_pem()),
        ] {
            write_private(path, pem.as_bytes())?;
        }
        Ok(pki)
    }
}

/// Writes a file readable only by the user: keys must not be world-readable.
fn write_private(path: &Path, contents: &[u8]) -> Result<(), ControlPlaneError> {
    Ok(crate::fs::write_atomic(path, contents, 0o600)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_pem_files_readable_only_by_the_user() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::generate(dir.path()).unwrap();
        for path in [
            &pki.ca_cert,
            &pki.serving_cert,
            &pki.serving_key,
            &pki.admin_cert,
            &pki.admin_key,
            &pki.service_account_key,
        ] {
            let text = std::fs::read_to_string(path).unwrap();
            assert!(text.starts_with("-----BEGIN "), "{}", path.display());
            assert_eq!(std::fs::metadata(path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert!(std::fs::read_to_string(&pki.ca_cert).unwrap().contains("CERTIFICATE"));
        assert!(std::fs::read_to_string(&pki.service_account_key).unwrap().contains("PRIVATE KEY"));
    }
}
