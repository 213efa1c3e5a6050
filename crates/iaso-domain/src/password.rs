//! Password hashing (argon2id) and the password rules applied when a password is set.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};

/// Hashes and verifies passwords with argon2id.
#[derive(Clone)]
pub struct PasswordHasher {
    argon: Argon2<'static>,
    /// A hash of a random password, verified against when the user does not exist so that an
    /// unknown username takes as long to refuse as a wrong password.
    decoy: String,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHasher(argon2id)")
    }
}

/// Cost of a hash. `Standard` follows OWASP's argon2id recommendation (19 MiB, 2 passes);
/// `Fast` is for tests only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashCost {
    Standard,
    Fast,
}

impl PasswordHasher {
    pub fn new(cost: HashCost) -> Self {
        let params = match cost {
            HashCost::Standard => Params::new(19 * 1024, 2, 1, None),
            HashCost::Fast => Params::new(256, 1, 1, None),
        };
        // Both parameter sets are within argon2's documented bounds.
        let params = params.unwrap_or_default();
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut hasher = PasswordHasher {
            argon,
            decoy: String::new(),
        };
        hasher.decoy = hasher.hash(&random_token(24));
        hasher
    }

    /// A PHC string (`$argon2id$v=19$...`) for storage.
    pub fn hash(&self, password: &str) -> String {
        let salt = SaltString::generate(&mut OsRng);
        match self.argon.hash_password(password.as_bytes(), &salt) {
            Ok(hash) => hash.to_string(),
            // Only fails for out-of-range parameters or salts, which we never produce; an
            // empty hash is "unusable" and never verifies.
            Err(_) => String::new(),
        }
    }

    /// Checks `password` against a stored hash; an empty or malformed hash never matches.
    pub fn verify(&self, stored: &str, password: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(stored) else {
            return false;
        };
        self.argon
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    }

    /// Spends the time of one verification without a user (see `decoy`).
    pub fn verify_decoy(&self, password: &str) {
        let _ = self.verify(&self.decoy, password);
    }
}

/// Why a new password is refused, in words for the person typing it.
pub fn check_new_password(password: &str, username: &str) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    if password.chars().count() < 8 {
        problems.push("This password is too short. It must contain at least 8 characters.".into());
    }
    if password.chars().count() > 256 {
        problems.push("This password is too long (256 characters at most).".into());
    }
    if !password.is_empty() && password.chars().all(|c| c.is_ascii_digit()) {
        problems.push("This password is entirely numeric.".into());
    }
    if !username.is_empty() && password.to_lowercase().contains(&username.to_lowercase()) {
        problems.push("The password is too similar to the username.".into());
    }
    const COMMON: &[&str] = &[
        "password",
        "password1",
        "12345678",
        "123456789",
        "qwertyuiop",
        "azertyuiop",
        "iloveyou",
        "motdepasse",
        "admin123",
        "adminadmin",
        "changeme",
        "welcome1",
        "letmein1",
    ];
    if COMMON.contains(&password.to_lowercase().as_str()) {
        problems.push("This password is too common.".into());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// A URL-safe random token of `bytes` random bytes (session keys, reset tokens).
pub fn random_token(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_the_right_password() {
        let h = PasswordHasher::new(HashCost::Fast);
        let stored = h.hash("correct horse");
        assert!(stored.starts_with("$argon2id$"));
        assert!(h.verify(&stored, "correct horse"));
        assert!(!h.verify(&stored, "correct horsE"));
        assert!(!h.verify("", "anything"));
        assert_ne!(stored, h.hash("correct horse"), "salted");
    }

    #[test]
    fn password_rules() {
        assert!(check_new_password("a-long-passphrase", "bob").is_ok());
        let errs = check_new_password("1234567", "bob").unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(check_new_password("bob-is-great", "bob").is_err());
        assert!(check_new_password("adminadmin", "root").is_err());
    }
}
