//! `cairn admin lifecycle status`: what the lifecycle worker of the server asked has
//! done (see `admin::lifecycle`). Exit codes as the other admin commands: 0 success,
//! 1 an error answer, 2 usage, 3 the server cannot be reached.

use super::cli::{ConnectArgs, Defaults, EXIT_FAILED, EXIT_OK, client, fail};
use super::lifecycle::{LifecycleStatus, PATH};
use clap::{Args, Subcommand};
use http::Method;
use std::time::Duration;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Args)]
pub struct LifecycleArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(subcommand)]
    pub command: LifecycleCommand,
}

#[derive(Debug, Subcommand)]
pub enum LifecycleCommand {
    /// Show this server's lifecycle worker: passes, objects expired, versions and
    /// delete markers removed, uploads aborted, removals refused (object lock)
    Status,
}

pub async fn run(a: LifecycleArgs, defaults: &Defaults) -> u8 {
    let c = match client(&a.connect, defaults) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match a.command {
        LifecycleCommand::Status => {
            match c
                .json::<LifecycleStatus>(Method::GET, PATH, &[], REQUEST_TIMEOUT)
                .await
            {
                Ok(s) if a.connect.json => match serde_json::to_string_pretty(&s) {
                    Ok(j) => {
                        println!("{j}");
                        EXIT_OK
                    }
                    Err(e) => {
                        eprintln!("cairn admin: {e}");
                        EXIT_FAILED
                    }
                },
                Ok(s) => {
                    print!("{}", table(&s));
                    EXIT_OK
                }
                Err(e) => fail(&e),
            }
        }
    }
}

fn table(s: &LifecycleStatus) -> String {
    let buckets = s
        .buckets_with_rules
        .map_or_else(|| "unknown".to_string(), |n| n.to_string());
    format!(
        "Server:                 {}\n\
         Buckets with rules:     {buckets}\n\
         Pass running:           {}\n\
         Passes completed:       {}\n\
         Last pass ended:        {}\n\
         Objects expired:        {}\n\
         Versions removed:       {}\n\
         Delete markers removed: {}\n\
         Uploads aborted:        {}\n\
         Removals refused:       {}\n",
        s.server,
        if s.running { "yes" } else { "no" },
        s.passes,
        s.last_pass.as_deref().unwrap_or("never"),
        s.objects_expired,
        s.versions_removed,
        s.delete_markers_removed,
        s.uploads_aborted,
        s.skipped,
    )
}
