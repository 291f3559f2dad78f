//! The command line of the `cairn` binary: `cairn server ...` and `cairn admin ...`.
//! It sits above `config` (which resolves the server's settings) and `admin::cli`
//! (the admin client), so neither of those imports the other.

use clap::{Parser, Subcommand};

pub use crate::config::ServerArgs;

#[derive(Debug, Parser)]
#[command(
    name = "cairn",
    version,
    about = "Cairn: erasure-coded, S3-compatible object storage",
    long_about = "Cairn stores objects erasure-coded across drives and serves them over the S3 API.\n\n\
        Quick start on one machine (8 directories, EC:4):\n\n  \
        CAIRN_ROOT_USER=admin CAIRN_ROOT_PASSWORD=change-me-now cairn server ./data/drive{1...8}\n\n\
        then point any S3 client at http://127.0.0.1:9000 with those credentials."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the storage server on the given drives.
    #[command(
        after_long_help = "Testing aid: CAIRN_LIFECYCLE_DAY_SECONDS=N makes a bucket \
        lifecycle \"day\" last N seconds and the lifecycle worker run every second (default: \
        a day is 86400 s and the worker runs hourly). Never set it for data you keep."
    )]
    Server(ServerArgs),
    /// Administer a running deployment: `info`, `heal`, and identities (`user`, `group`,
    /// `policy`, `svcacct`) through MinIO's admin API.
    Admin(crate::admin::cli::AdminArgs),
}
