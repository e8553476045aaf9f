//! `serve --tls-cert FILE --tls-key FILE`: HTTPS with rustls. The files are
//! read and checked at start (a bad file is a one-line error naming it,
//! exit 2, before anything listens); each connection's handshake must end
//! within the same time a request head gets, so a client that stalls in the
//! handshake holds its slot no longer than a silent one.

use std::{path::Path, sync::Arc};

use tokio_rustls::{
    TlsAcceptor,
    rustls::{
        self, ServerConfig,
        pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    },
};

use crate::input;

/// Certificate chains and keys are small; anything larger is not one.
const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// The acceptor for `--tls-cert` (a PEM chain, leaf first) and `--tls-key`
/// (a PEM private key: PKCS#8, PKCS#1 or SEC1).
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    let read = |path: &Path, what: &str| {
        input::read_file(path, what, MAX_PEM_BYTES, input::DEFAULT_READ_WAIT)
            .map_err(|e| format!("--{what} {}: {e}", path.display()))
    };
    let cert_pem = read(cert, "tls-cert")?;
    let key_pem = read(key, "tls-key")?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("--tls-cert {}: not a PEM certificate chain ({e})", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "--tls-cert {}: no certificate in it (expected -----BEGIN CERTIFICATE-----)",
            cert.display()
        ));
    }
    let key_der = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| format!("--tls-key {}: not a PEM private key ({e})", key.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| {
            format!(
                "--tls-cert {} and --tls-key {} do not make a usable pair ({e})",
                cert.display(),
                key.display()
            )
        })?;
    let mut config = config;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, "not a certificate\n").unwrap();
        std::fs::write(&key, "not a key\n").unwrap();
        let e = acceptor(&cert, &key).err().expect("refused");
        assert!(
            e.contains("--tls-cert") && e.contains("cert.pem") && e.contains("no certificate"),
            "{e}"
        );
        let missing = dir.path().join("missing.pem");
        let e = acceptor(&missing, &key).err().expect("refused");
        assert!(e.contains("missing.pem"), "{e}");
    }
}
