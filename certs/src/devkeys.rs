//! Development mode: a key and a self-signed certificate that appear on first start and persist.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use crate::error::CertError;
use crate::keys::KeyKind;
use crate::keyset::SigningIdentity;
use crate::random::{random_id, SystemRandomSource};

const DEV_VALIDITY_DAYS: u32 = 3650;

impl SigningIdentity {
    /// Dev mode: load `<dir>/<name>.key.pem` + `<dir>/<name>.crt.pem` if both exist (and match), else generate
    /// (`kind`, 10 years validity) and write them: the key file with mode 0600 on unix, each file through a
    /// temporary file and a rename so neither is ever half-written. Creates `dir` (mode 0700 on unix) if missing.
    ///
    /// A pair that exists but does not match is an error, never silently replaced. When only one of the two
    /// files exists (an interrupted first start) both are generated afresh. An existing pair is loaded whatever
    /// `kind` says.
    pub fn load_or_generate(
        dir: &Path,
        name: &str,
        common_name: &str,
        kind: KeyKind,
        now: OffsetDateTime,
    ) -> Result<Self, CertError> {
        check_name(name)?;
        let key_path = dir.join(format!("{name}.key.pem"));
        let cert_path = dir.join(format!("{name}.crt.pem"));
        if key_path.is_file() && cert_path.is_file() {
            return Self::from_pem_files(&key_path, &cert_path);
        }

        create_private_dir(dir)?;
        let identity = Self::generate_self_signed(common_name, kind, now, DEV_VALIDITY_DAYS)?;
        // A lone certificate goes before the new key is written, and the key is written before its certificate:
        // wherever the process dies, the next start finds at most a key without a certificate and starts over,
        // never a certificate beside a key it does not belong to.
        match fs::remove_file(&cert_path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(CertError::io(&cert_path, e)),
        }
        write_atomically(&key_path, identity.key.to_pkcs8_pem()?.as_bytes(), 0o600)?;
        write_atomically(&cert_path, identity.cert.to_pem().as_bytes(), 0o644)?;
        sync_dir(dir);
        Ok(identity)
    }
}

/// `name` becomes part of a file name inside `dir`: no separators, no hidden or relative names.
fn check_name(name: &str) -> Result<(), CertError> {
    let acceptable = !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if acceptable {
        Ok(())
    } else {
        Err(CertError::InvalidName(name.to_owned()))
    }
}

fn create_private_dir(dir: &Path) -> Result<(), CertError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| CertError::io(dir, e))
}

fn write_atomically(path: &Path, contents: &[u8], mode: u32) -> Result<(), CertError> {
    let tmp = temp_path(path)?;
    let result = write_new_file(&tmp, contents, mode)
        .and_then(|()| fs::rename(&tmp, path).map_err(|e| CertError::io(path, e)));
    if result.is_err() {
        // Best effort: the temporary file is garbage either way and the original error is what matters.
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn write_new_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), CertError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(|e| CertError::io(path, e))?;
    file.write_all(contents)
        .map_err(|e| CertError::io(path, e))?;
    file.sync_all().map_err(|e| CertError::io(path, e))
}

fn temp_path(path: &Path) -> Result<PathBuf, CertError> {
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| CertError::InvalidName(path.display().to_string()))?;
    Ok(path.with_file_name(format!(
        ".{file_name}.tmp{}",
        random_id(&SystemRandomSource)?
    )))
}

/// Persist the renames. Best effort: some filesystems refuse to fsync a directory, and the files
/// themselves are already complete on disk.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(handle) = fs::File::open(dir) {
        let _ = handle.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2030-03-01 08:00:00 UTC);

    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            Self(std::env::temp_dir().join(format!(
                "certs-devkeys-{}",
                random_id(&SystemRandomSource).unwrap()
            )))
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn generates_once_then_reuses() {
        let tmp = TempDir::new();
        let dir = tmp.0.join("keys/saml");
        let first = SigningIdentity::load_or_generate(
            &dir,
            "idp-signing",
            "gateway.dev",
            KeyKind::Rsa2048,
            NOW,
        )
        .unwrap();
        assert_eq!(
            entries(&dir),
            vec!["idp-signing.crt.pem", "idp-signing.key.pem"]
        );
        assert_eq!(first.cert.subject(), "CN=gateway.dev");
        assert_eq!(first.cert.not_after(), NOW + time::Duration::days(3650));
        assert_eq!(first.key.algorithm(), crate::SignatureAlgorithm::RsaSha256);

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir.join("idp-signing.key.pem")), 0o600);
            assert_eq!(mode(&dir), 0o700);
        }

        // A later start, even asking for another kind, gets the same identity back.
        let second = SigningIdentity::load_or_generate(
            &dir,
            "idp-signing",
            "other",
            KeyKind::EcdsaP256,
            NOW + time::Duration::days(1),
        )
        .unwrap();
        assert_eq!(
            second.cert.sha256_fingerprint(),
            first.cert.sha256_fingerprint()
        );
        assert_eq!(
            second.key.public_key_spki_der(),
            first.key.public_key_spki_der()
        );
        assert_eq!(
            entries(&dir),
            vec!["idp-signing.crt.pem", "idp-signing.key.pem"]
        );
    }

    #[test]
    fn ecdsa_kind_is_honoured() {
        let tmp = TempDir::new();
        let id = SigningIdentity::load_or_generate(&tmp.0, "jwt", "gw", KeyKind::EcdsaP256, NOW)
            .unwrap();
        assert_eq!(id.key.algorithm(), crate::SignatureAlgorithm::EcdsaSha256);
    }

    #[test]
    fn a_mismatched_pair_is_an_error_not_replaced() {
        let tmp = TempDir::new();
        SigningIdentity::load_or_generate(&tmp.0, "a", "gw", KeyKind::EcdsaP256, NOW).unwrap();
        let other =
            SigningIdentity::generate_self_signed("other", KeyKind::EcdsaP256, NOW, 1).unwrap();
        let cert_path = tmp.0.join("a.crt.pem");
        fs::write(&cert_path, other.cert.to_pem()).unwrap();
        let err = SigningIdentity::load_or_generate(&tmp.0, "a", "gw", KeyKind::EcdsaP256, NOW)
            .unwrap_err();
        assert!(matches!(err, CertError::KeyCertMismatch), "{err:?}");
        assert_eq!(fs::read_to_string(&cert_path).unwrap(), other.cert.to_pem());
    }

    #[test]
    fn a_lone_file_is_replaced_by_a_fresh_pair() {
        let tmp = TempDir::new();
        let first =
            SigningIdentity::load_or_generate(&tmp.0, "a", "gw", KeyKind::EcdsaP256, NOW).unwrap();
        fs::remove_file(tmp.0.join("a.crt.pem")).unwrap();
        let second =
            SigningIdentity::load_or_generate(&tmp.0, "a", "gw", KeyKind::EcdsaP256, NOW).unwrap();
        assert_ne!(
            second.cert.sha256_fingerprint(),
            first.cert.sha256_fingerprint()
        );
        let third =
            SigningIdentity::load_or_generate(&tmp.0, "a", "gw", KeyKind::EcdsaP256, NOW).unwrap();
        assert_eq!(
            third.cert.sha256_fingerprint(),
            second.cert.sha256_fingerprint()
        );
        assert_eq!(entries(&tmp.0), vec!["a.crt.pem", "a.key.pem"]);
    }

    #[test]
    fn a_lone_certificate_is_replaced_too() {
        let tmp = TempDir::new();
        let first =
            SigningIdentity::load_or_generate(&tmp.0, "a", "gw", KeyKind::EcdsaP256, NOW).unwrap();
        fs::remove_file(tmp.0.join("a.key.pem")).unwrap();
        let second =
            SigningIdentity::load_or_generate(&tmp.0, "a", "gw", KeyKind::EcdsaP256, NOW).unwrap();
        assert_ne!(
            second.cert.sha256_fingerprint(),
            first.cert.sha256_fingerprint()
        );
        let reloaded =
            SigningIdentity::from_pem_files(&tmp.0.join("a.key.pem"), &tmp.0.join("a.crt.pem"))
                .unwrap();
        assert_eq!(reloaded.cert, second.cert);
    }

    #[test]
    fn names_that_escape_the_directory_are_refused() {
        let tmp = TempDir::new();
        for name in ["", "../x", "a/b", ".hidden", "a\\b", "a b"] {
            let err =
                SigningIdentity::load_or_generate(&tmp.0, name, "gw", KeyKind::EcdsaP256, NOW)
                    .unwrap_err();
            assert!(
                matches!(err, CertError::InvalidName(_)),
                "{name:?}: {err:?}"
            );
        }
        assert!(!tmp.0.exists());
    }
}
