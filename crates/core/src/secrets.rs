//! API keys: the OS keychain (Secret Service on Linux, Keychain on macOS, Credential
//! Manager on Windows) through `keyring`, or an environment variable for headless use.
//! Keys are only ever held as [`Secret`]s; nothing here writes them anywhere else.

use frugal_cloud::Secret;
use serde::Serialize;

use crate::{CoreError, Result};

/// The keychain service every entry is filed under; the account is the provider name.
pub const SERVICE: &str = "frugal";

/// Where a provider's key comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeySource {
    /// `FRUGAL_KEY_<NAME>` (wins over the keychain, for headless machines and CI).
    Environment,
    /// The OS keychain.
    Keychain,
}

/// The environment variable that overrides the keychain: `FRUGAL_KEY_` and the name
/// upper-cased, other characters than letters and digits as `_`.
pub fn env_var(provider: &str) -> String {
    let name: String =
        provider.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    format!("FRUGAL_KEY_{name}")
}

fn entry(provider: &str) -> Result<keyring::Entry> {
    keyring::Entry::new(SERVICE, provider).map_err(|e| keychain_error("open", &e))
}

/// Keychain errors as one line, without the platform's nested detail (never a key: keyring
/// does not put secrets in errors).
fn keychain_error(action: &str, e: &keyring::Error) -> CoreError {
    let why = match e {
        keyring::Error::NoStorageAccess(_) | keyring::Error::PlatformFailure(_) => {
            "the OS keychain is not available (on Linux: a Secret Service such as gnome-keyring must be running)"
                .to_string()
        }
        other => other.to_string().lines().next().unwrap_or("keychain error").to_string(),
    };
    CoreError::Keychain(format!("cannot {action} the key: {why}"))
}

/// The key for `provider`: the environment variable first, then the keychain. `Ok(None)`
/// when neither has one.
pub fn key_for(provider: &str) -> Result<Option<(Secret, KeySource)>> {
    if let Ok(v) = std::env::var(env_var(provider)) {
        let s = Secret::new(v);
        if !s.is_empty() {
            return Ok(Some((s, KeySource::Environment)));
        }
    }
    match entry(provider)?.get_password() {
        Ok(k) => Ok(Some((Secret::new(k), KeySource::Keychain))),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(keychain_error("read", &e)),
    }
}

/// Stores (or replaces) the key in the keychain.
pub fn set_key(provider: &str, key: &Secret) -> Result<()> {
    if key.is_empty() {
        return Err(CoreError::Input("the key is empty".into()));
    }
    entry(provider)?.set_password(key.expose()).map_err(|e| keychain_error("store", &e))?;
    // Read it back: some keychains accept a write they cannot serve (a locked collection).
    match entry(provider)?.get_password() {
        Ok(back) if back == key.expose() => Ok(()),
        Ok(_) => Err(CoreError::Keychain("the keychain stored a different key than given".into())),
        Err(e) => Err(keychain_error("read back", &e)),
    }
}

/// Deletes the key from the keychain; `false` if there was none.
pub fn remove_key(provider: &str) -> Result<bool> {
    match entry(provider)?.delete_credential() {
        Ok(()) => Ok(true),
        Err(keyring::Error::NoEntry) => Ok(false),
        Err(e) => Err(keychain_error("remove", &e)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn env_names() {
        assert_eq!(super::env_var("openai"), "FRUGAL_KEY_OPENAI");
        assert_eq!(super::env_var("work-claude.2"), "FRUGAL_KEY_WORK_CLAUDE_2");
    }
}
