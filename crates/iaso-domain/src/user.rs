//! Login identities and their membership of accounts.

use crate::{AccountId, ProfileId, UserId};
use chrono::{DateTime, Utc};

/// A login. One user may hold profiles in several accounts; `current_account_id` is the one
/// the user works in now (switched with `/api/accounts/switch/`).
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub date_joined: DateTime<Utc>,
    pub last_login: Option<DateTime<Utc>>,
    /// Bumped on every password change: tokens carrying an older value stop working.
    pub token_version: i64,
    pub current_account_id: Option<AccountId>,
}

impl User {
    /// "username (First Last)" as Iaso's `user_display`, or the username alone.
    pub fn display(&self) -> String {
        let full = format!("{} {}", self.first_name, self.last_name)
            .trim()
            .to_string();
        if full.is_empty() {
            self.username.clone()
        } else {
            format!("{} ({full})", self.username)
        }
    }
}

/// A user's membership of one account, with per-account settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub id: ProfileId,
    pub user_id: UserId,
    pub account_id: AccountId,
    pub language: Option<String>,
    pub organization: Option<String>,
    pub phone_number: String,
    pub dhis2_id: Option<String>,
    pub home_page: Option<String>,
    pub color: String,
    pub external_user_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A username as Iaso accepts it: 1–150 characters of letters, digits and `@.+-_`.
pub fn valid_username(username: &str) -> Result<(), String> {
    let n = username.chars().count();
    if n == 0 {
        return Err("This field may not be blank.".into());
    }
    if n > 150 {
        return Err("Ensure this field has no more than 150 characters.".into());
    }
    if !username
        .chars()
        .all(|c| c.is_alphanumeric() || "@.+-_".contains(c))
    {
        return Err("Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.".into());
    }
    Ok(())
}

/// A permissive e-mail shape check (one `@`, a dot in the domain, no spaces).
pub fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.contains(char::is_whitespace)
        && !domain.contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_and_emails() {
        assert!(valid_username("jane.doe+test@x").is_ok());
        assert!(valid_username("").is_err());
        assert!(valid_username("jane doe").is_err());
        assert!(valid_email("a@b.org"));
        assert!(!valid_email("a@b"));
        assert!(!valid_email("a b@c.org"));
    }
}
