//! `PolicyError`: why a policy document was refused. Its `Display` is the text the server
//! returns to the user inside `MalformedPolicy`, so every message names what is wrong and
//! where (statement number, counted from 1, and its Sid when it has one).

use std::fmt;

/// A policy document that cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The bytes are not JSON, or JSON of the wrong shape at the top (a duplicate key, ...).
    #[error("invalid JSON: {0}")]
    Json(String),
    /// Something wrong outside any statement (Version, Id, the Statement list itself).
    #[error("{0}")]
    Document(String),
    /// Something wrong inside one statement.
    #[error("{at}: {message}")]
    Statement {
        /// Where: statement number (from 1) and Sid.
        at: StatementRef,
        /// What is wrong.
        message: String,
    },
}

impl PolicyError {
    /// The statement number (from 1) the error is about, if any.
    pub fn statement(&self) -> Option<usize> {
        match self {
            PolicyError::Statement { at, .. } => Some(at.number),
            _ => None,
        }
    }
}

/// Names a statement in messages: `Statement 2 (Sid "ReadOnly")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementRef {
    /// 1-based position in the Statement array.
    pub number: usize,
    /// The statement's Sid, when it has a non-empty one.
    pub sid: Option<String>,
}

impl fmt::Display for StatementRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Statement {}", self.number)?;
        if let Some(sid) = &self.sid {
            write!(f, " (Sid {sid:?})")?;
        }
        Ok(())
    }
}
