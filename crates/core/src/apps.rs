//! The gateway's apps as the shells manage them: a new app gets a random token shown once;
//! the ledger keeps only its SHA-256, so neither the ledger nor a backup of it can be used to
//! call the gateway. A request's token is hashed the same way to find its app.

use frugal_ledger::{App, AppSpend, Month};
use sha2::{Digest, Sha256};

use crate::{CoreError, Result, Spend};

/// Tokens start with this, so a leaked one is recognisable (and secret scanners can match it).
pub const TOKEN_PREFIX: &str = "frugal-";

/// The hash the ledger keeps of a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// 32 random bytes from the OS, as hex after [`TOKEN_PREFIX`].
fn new_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| CoreError::Input(format!("no randomness from the OS for a token: {e}")))?;
    Ok(format!("{TOKEN_PREFIX}{}", hex::encode(bytes)))
}

impl Spend {
    /// Adds an app; returns its token, which is not stored anywhere and cannot be shown again.
    pub fn add_app(&self, app: &App) -> Result<String> {
        let token = new_token()?;
        self.ledger()?.add_app(app, &token_hash(&token))?;
        Ok(token)
    }

    /// The app a request's bearer token belongs to.
    pub fn app_for_token(&self, token: &str) -> Result<Option<App>> {
        Ok(self.ledger()?.app_by_token(&token_hash(token.trim()))?)
    }

    /// Every app with its spend this month.
    pub fn apps(&self, month: Month) -> Result<Vec<AppSpend>> {
        Ok(self.ledger()?.apps(month)?)
    }

    /// Sets or lifts an app's monthly cap.
    pub fn set_app_budget(&self, name: &str, monthly_micros: Option<i64>) -> Result<()> {
        Ok(self.ledger()?.set_app_budget(name, monthly_micros)?)
    }

    /// Lets (or stops) an app's repeatable requests be answered from the response cache.
    pub fn set_app_cache(&self, name: &str, cache: bool) -> Result<()> {
        Ok(self.ledger()?.set_app_cache(name, cache)?)
    }

    /// Removes an app; its token stops working.
    pub fn remove_app(&self, name: &str) -> Result<()> {
        Ok(self.ledger()?.remove_app(name)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_only_their_hash_is_kept() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 64);
        assert_ne!(a, b);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert!(!token_hash(&a).contains(&a[TOKEN_PREFIX.len()..]));
    }
}
