//! `cairn admin user|group|policy|svcacct ...`: identity management from the command
//! line (and `user accountinfo`: what the signing identity may reach), over MinIO's admin API v3 (the same calls `mc admin` makes), so it works with
//! any identity holding the admin rights a command needs (root by default).
//!
//! Output is a readable table or line by default and the server's JSON answer with
//! `--json`. Exit codes as `cairn admin`: 0 success, 1 an error answer, 2 usage or
//! configuration errors (e.g. an unreadable policy file), 3 the server cannot be
//! reached.

use super::cli::{ConnectArgs, Defaults, EXIT_OK, EXIT_USAGE, client, fail, table};
use super::client::{AdminClient, V3Body};
use cairn_madmin::paths::Call;
use cairn_madmin::types::*;
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(subcommand)]
    pub command: UserCommand,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user (or change its secret key). The access key is its name.
    Add {
        #[arg(value_name = "ACCESS_KEY")]
        user: String,
        #[arg(value_name = "SECRET_KEY")]
        secret: String,
        /// Policies to attach, comma-separated (e.g. readwrite)
        #[arg(long)]
        policy: Option<String>,
    },
    /// Delete a user, its group memberships and its service accounts.
    Remove {
        #[arg(value_name = "ACCESS_KEY")]
        key: String,
    },
    /// Show a user's status, policies and groups (never its secret).
    Info {
        #[arg(value_name = "ACCESS_KEY")]
        key: String,
    },
    /// List users.
    List,
    /// Allow a disabled user to sign requests again.
    Enable {
        #[arg(value_name = "ACCESS_KEY")]
        key: String,
    },
    /// Refuse every request signed by the user (and its service accounts).
    Disable {
        #[arg(value_name = "ACCESS_KEY")]
        key: String,
    },
    /// Show the signing identity's account: its effective policy and the buckets it
    /// may read or write (MinIO's accountinfo; needs no admin right).
    Accountinfo,
}

#[derive(Debug, Args)]
pub struct GroupArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(subcommand)]
    pub command: GroupCommand,
}

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Add users to a group, creating the group if needed.
    Add {
        group: String,
        #[arg(required = true)]
        members: Vec<String>,
    },
    /// Remove members from a group; without members, delete the (empty) group.
    Remove { group: String, members: Vec<String> },
    /// Show a group's status, members and policies.
    Info { group: String },
    /// List groups.
    List,
    /// Let a disabled group's policies apply again.
    Enable { group: String },
    /// Stop a group's policies from applying to its members.
    Disable { group: String },
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(subcommand)]
    pub command: PolicyCommand,
}

/// Who a policy is attached to.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct Entity {
    /// The user
    #[arg(long)]
    user: Option<String>,
    /// The group
    #[arg(long)]
    group: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Create or replace a named policy from a JSON file (AWS IAM policy language).
    Create { name: String, file: PathBuf },
    /// Delete a named policy (it is detached from everyone).
    Remove { name: String },
    /// Print a policy's document.
    Info { name: String },
    /// List policies (built-in and created).
    List,
    /// Attach policies to a user or a group: `policy attach readwrite --user alice`.
    Attach {
        #[arg(required = true)]
        policies: Vec<String>,
        #[command(flatten)]
        entity: Entity,
    },
    /// Detach policies from a user or a group.
    Detach {
        #[arg(required = true)]
        policies: Vec<String>,
        #[command(flatten)]
        entity: Entity,
    },
}

#[derive(Debug, Args)]
pub struct SvcacctArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(subcommand)]
    pub command: SvcacctCommand,
}

#[derive(Debug, Subcommand)]
pub enum SvcacctCommand {
    /// Create a service account; prints its access and secret keys (shown only once).
    Add {
        /// The user it acts for [default: the signing user]
        #[arg(long)]
        user: Option<String>,
        /// JSON policy file that narrows the user's permissions
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        /// The new account's access key [default: generated] (`--access-key` is the key
        /// that signs this request)
        #[arg(long = "account-key", value_name = "ACCESS_KEY")]
        access_key_new: Option<String>,
        /// A short name to recognise the account by (shown in lists)
        #[arg(long)]
        name: Option<String>,
        /// What the account is for
        #[arg(long)]
        description: Option<String>,
        /// When the key stops working, RFC 3339 (e.g. 2030-01-01T00:00:00Z)
        #[arg(long, value_name = "TIME")]
        expiry: Option<String>,
    },
    /// Delete a service account.
    Remove {
        #[arg(value_name = "ACCESS_KEY")]
        key: String,
    },
    /// Show a service account's parent, status and policy.
    Info {
        #[arg(value_name = "ACCESS_KEY")]
        key: String,
    },
    /// List the service accounts of a user.
    List {
        /// Whose [default: the signing user]
        #[arg(long)]
        user: Option<String>,
    },
    /// Change a service account: status, secret key or policy.
    Edit {
        #[arg(value_name = "ACCESS_KEY")]
        key: String,
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        #[arg(long)]
        disable: bool,
        /// A new secret key
        #[arg(long)]
        new_secret_key: Option<String>,
        /// A new narrowing policy (JSON file; one with no statement removes it)
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
    },
}

/// A call's outcome: the answer's bytes, or an exit code already reported.
async fn call(
    c: &AdminClient,
    call: Call,
    query: &[(&str, &str)],
    body: V3Body,
) -> Result<bytes::Bytes, u8> {
    c.v3(call, query, body, TIMEOUT).await.map_err(|e| fail(&e))
}

fn parse<T: serde::de::DeserializeOwned>(b: &[u8]) -> Result<T, u8> {
    serde_json::from_slice(b).map_err(|e| {
        eprintln!("cairn admin: unexpected answer: {e}");
        super::cli::EXIT_FAILED
    })
}

fn enc<T: serde::Serialize>(v: &T) -> V3Body {
    V3Body::Encrypted(serde_json::to_vec(v).unwrap_or_default())
}

/// Prints the JSON answer (pretty) or, for calls without one, a success object.
fn print_json(b: &[u8]) {
    match serde_json::from_slice::<serde_json::Value>(b) {
        Ok(v) => println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default()),
        Err(_) => println!("{{\"status\":\"success\"}}"),
    }
}

fn done(json: bool, b: &[u8], message: String) -> u8 {
    if json {
        print_json(b);
    } else {
        println!("{message}");
    }
    EXIT_OK
}

fn read_json_file(path: &Path) -> Result<serde_json::Value, u8> {
    let text = std::fs::read(path).map_err(|e| {
        eprintln!("cairn admin: cannot read {}: {e}", path.display());
        EXIT_USAGE
    })?;
    serde_json::from_slice(&text).map_err(|e| {
        eprintln!("cairn admin: {} is not JSON: {e}", path.display());
        EXIT_USAGE
    })
}

fn code(r: Result<u8, u8>) -> u8 {
    r.unwrap_or_else(|c| c)
}

pub async fn user(a: UserArgs, defaults: &Defaults) -> u8 {
    let c = match client(&a.connect, defaults) {
        Ok(c) => c,
        Err(code) => return code,
    };
    code(user_cmd(&c, a.command, a.connect.json).await)
}

async fn user_cmd(c: &AdminClient, cmd: UserCommand, json: bool) -> Result<u8, u8> {
    Ok(match cmd {
        UserCommand::Add {
            user: access_key,
            secret: secret_key,
            policy,
        } => {
            let req = AddOrUpdateUserReq {
                secret_key,
                policy: policy.unwrap_or_default(),
                status: Status::Enabled,
            };
            let b = call(c, Call::AddUser, &[("accessKey", &access_key)], enc(&req)).await?;
            done(json, &b, format!("Added user `{access_key}`."))
        }
        UserCommand::Remove { key: access_key } => {
            let b = call(
                c,
                Call::RemoveUser,
                &[("accessKey", &access_key)],
                V3Body::None,
            )
            .await?;
            done(json, &b, format!("Removed user `{access_key}`."))
        }
        UserCommand::Info { key: access_key } => {
            let b = call(
                c,
                Call::UserInfo,
                &[("accessKey", &access_key)],
                V3Body::None,
            )
            .await?;
            if json {
                print_json(&b);
            } else {
                let i: UserInfo = parse(&b)?;
                print!(
                    "{}",
                    table(&[
                        vec!["AccessKey:".into(), access_key],
                        vec!["Status:".into(), i.status.as_str().into()],
                        vec!["PolicyName:".into(), i.policy_name],
                        vec!["MemberOf:".into(), i.member_of.join(",")],
                        vec!["UpdatedAt:".into(), i.updated_at],
                    ])
                );
            }
            EXIT_OK
        }
        UserCommand::List => {
            let b = call(c, Call::ListUsers, &[], V3Body::None).await?;
            if json {
                print_json(&b);
            } else {
                let l: UserList = parse(&b)?;
                let mut rows = vec![vec![
                    "ACCESS KEY".into(),
                    "STATUS".into(),
                    "POLICIES".into(),
                    "GROUPS".into(),
                ]];
                for (k, u) in l {
                    rows.push(vec![
                        k,
                        u.status.as_str().into(),
                        u.policy_name,
                        u.member_of.join(","),
                    ]);
                }
                print!("{}", table(&rows));
            }
            EXIT_OK
        }
        UserCommand::Accountinfo => {
            let b = call(c, Call::AccountInfo, &[], V3Body::None).await?;
            if json {
                print_json(&b);
            } else {
                print_account(&parse(&b)?);
            }
            EXIT_OK
        }
        UserCommand::Enable { key: access_key } => {
            user_status(c, &access_key, "enabled", json).await?
        }
        UserCommand::Disable { key: access_key } => {
            user_status(c, &access_key, "disabled", json).await?
        }
    })
}

/// The account line, its buckets as a table, then its policy.
fn print_account(a: &AccountInfo) {
    println!("Account: {}", a.account_name);
    let yes = |b: bool| if b { "yes" } else { "no" }.to_string();
    let mut rows = vec![vec![
        "BUCKET".into(),
        "READ".into(),
        "WRITE".into(),
        "CREATED".into(),
    ]];
    for b in &a.buckets {
        rows.push(vec![
            b.name.clone(),
            yes(b.access.read),
            yes(b.access.write),
            b.created.clone(),
        ]);
    }
    print!("{}", table(&rows));
    println!(
        "Policy:\n{}",
        serde_json::to_string_pretty(&a.policy).unwrap_or_default()
    );
}

async fn user_status(c: &AdminClient, ak: &str, status: &str, json: bool) -> Result<u8, u8> {
    let b = call(
        c,
        Call::SetUserStatus,
        &[("accessKey", ak), ("status", status)],
        V3Body::None,
    )
    .await?;
    Ok(done(json, &b, format!("User `{ak}` is {status}.")))
}

pub async fn group(a: GroupArgs, defaults: &Defaults) -> u8 {
    let c = match client(&a.connect, defaults) {
        Ok(c) => c,
        Err(code) => return code,
    };
    code(group_cmd(&c, a.command, a.connect.json).await)
}

fn members_body(group: &str, members: Vec<String>, remove: bool) -> V3Body {
    V3Body::Json(
        serde_json::to_vec(&GroupAddRemove {
            group: group.to_string(),
            members,
            status: Status::Unset,
            is_remove: remove,
        })
        .unwrap_or_default(),
    )
}

async fn group_cmd(c: &AdminClient, cmd: GroupCommand, json: bool) -> Result<u8, u8> {
    Ok(match cmd {
        GroupCommand::Add { group, members } => {
            let msg = format!("Added {} to group `{group}`.", members.join(", "));
            let b = call(
                c,
                Call::UpdateGroupMembers,
                &[],
                members_body(&group, members, false),
            )
            .await?;
            done(json, &b, msg)
        }
        GroupCommand::Remove { group, members } => {
            let msg = if members.is_empty() {
                format!("Removed group `{group}`.")
            } else {
                format!("Removed {} from group `{group}`.", members.join(", "))
            };
            let b = call(
                c,
                Call::UpdateGroupMembers,
                &[],
                members_body(&group, members, true),
            )
            .await?;
            done(json, &b, msg)
        }
        GroupCommand::Info { group } => {
            let b = call(c, Call::Group, &[("group", &group)], V3Body::None).await?;
            if json {
                print_json(&b);
            } else {
                let g: GroupDesc = parse(&b)?;
                print!(
                    "{}",
                    table(&[
                        vec!["Group:".into(), g.name],
                        vec!["Status:".into(), g.status],
                        vec!["Policy:".into(), g.policy],
                        vec!["Members:".into(), g.members.join(",")],
                    ])
                );
            }
            EXIT_OK
        }
        GroupCommand::List => {
            let b = call(c, Call::Groups, &[], V3Body::None).await?;
            if json {
                print_json(&b);
            } else {
                let l: GroupList = parse(&b)?;
                for g in l {
                    println!("{g}");
                }
            }
            EXIT_OK
        }
        GroupCommand::Enable { group } => group_status(c, &group, "enabled", json).await?,
        GroupCommand::Disable { group } => group_status(c, &group, "disabled", json).await?,
    })
}

async fn group_status(c: &AdminClient, group: &str, status: &str, json: bool) -> Result<u8, u8> {
    let b = call(
        c,
        Call::SetGroupStatus,
        &[("group", group), ("status", status)],
        V3Body::None,
    )
    .await?;
    Ok(done(json, &b, format!("Group `{group}` is {status}.")))
}

pub async fn policy(a: PolicyArgs, defaults: &Defaults) -> u8 {
    let c = match client(&a.connect, defaults) {
        Ok(c) => c,
        Err(code) => return code,
    };
    code(policy_cmd(&c, a.command, a.connect.json).await)
}

async fn policy_cmd(c: &AdminClient, cmd: PolicyCommand, json: bool) -> Result<u8, u8> {
    Ok(match cmd {
        PolicyCommand::Create { name, file } => {
            let doc = read_json_file(&file)?;
            let b = call(
                c,
                Call::AddCannedPolicy,
                &[("name", &name)],
                V3Body::Json(serde_json::to_vec(&doc).unwrap_or_default()),
            )
            .await?;
            done(json, &b, format!("Created policy `{name}`."))
        }
        PolicyCommand::Remove { name } => {
            let b = call(
                c,
                Call::RemoveCannedPolicy,
                &[("name", &name)],
                V3Body::None,
            )
            .await?;
            done(json, &b, format!("Removed policy `{name}`."))
        }
        PolicyCommand::Info { name } => {
            let b = call(
                c,
                Call::InfoCannedPolicy,
                &[("name", &name), ("v", "2")],
                V3Body::None,
            )
            .await?;
            if json {
                print_json(&b);
            } else {
                let p: PolicyInfo = parse(&b)?;
                println!(
                    "{}",
                    serde_json::to_string_pretty(&p.policy).unwrap_or_default()
                );
            }
            EXIT_OK
        }
        PolicyCommand::List => {
            let b = call(c, Call::ListCannedPolicies, &[], V3Body::None).await?;
            if json {
                print_json(&b);
            } else {
                let l: CannedPolicies = parse(&b)?;
                for name in l.keys() {
                    println!("{name}");
                }
            }
            EXIT_OK
        }
        PolicyCommand::Attach { policies, entity } => {
            associate(c, policies, entity, true, json).await?
        }
        PolicyCommand::Detach { policies, entity } => {
            associate(c, policies, entity, false, json).await?
        }
    })
}

async fn associate(
    c: &AdminClient,
    policies: Vec<String>,
    entity: Entity,
    attach: bool,
    json: bool,
) -> Result<u8, u8> {
    let who = match (&entity.user, &entity.group) {
        (Some(u), _) => format!("user `{u}`"),
        (None, Some(g)) => format!("group `{g}`"),
        (None, None) => String::new(),
    };
    let req = PolicyAssociationReq {
        policies,
        user: entity.user.unwrap_or_default(),
        group: entity.group.unwrap_or_default(),
        config_name: String::new(),
    };
    let the_call = if attach {
        Call::AttachPolicy
    } else {
        Call::DetachPolicy
    };
    let b = call(c, the_call, &[], enc(&req)).await?;
    if json {
        print_json(&b);
        return Ok(EXIT_OK);
    }
    let r: PolicyAssociationResp = parse(&b)?;
    Ok(if attach {
        done(
            false,
            &b,
            format!("Attached {} to {who}.", r.policies_attached.join(", ")),
        )
    } else {
        done(
            false,
            &b,
            format!("Detached {} from {who}.", r.policies_detached.join(", ")),
        )
    })
}

pub async fn svcacct(a: SvcacctArgs, defaults: &Defaults) -> u8 {
    let c = match client(&a.connect, defaults) {
        Ok(c) => c,
        Err(code) => return code,
    };
    code(svcacct_cmd(&c, a.command, a.connect.json).await)
}

async fn svcacct_cmd(c: &AdminClient, cmd: SvcacctCommand, json: bool) -> Result<u8, u8> {
    Ok(match cmd {
        SvcacctCommand::Add {
            user,
            policy,
            access_key_new,
            name,
            description,
            expiry,
        } => {
            let policy = match policy {
                Some(f) => Some(read_json_file(&f)?),
                None => None,
            };
            let req = AddServiceAccountReq {
                policy,
                target_user: user.unwrap_or_default(),
                access_key: access_key_new.unwrap_or_default(),
                name: name.unwrap_or_default(),
                description: description.unwrap_or_default(),
                expiration: expiry,
                ..Default::default()
            };
            let b = call(c, Call::AddServiceAccount, &[], enc(&req)).await?;
            if json {
                print_json(&b);
            } else {
                let r: AddServiceAccountResp = parse(&b)?;
                print!(
                    "{}",
                    table(&[
                        vec!["Access Key:".into(), r.credentials.access_key],
                        vec!["Secret Key:".into(), r.credentials.secret_key],
                        vec![
                            "Expiration:".into(),
                            r.credentials
                                .expiration
                                .unwrap_or_else(|| "no expiry".into())
                        ],
                    ])
                );
            }
            EXIT_OK
        }
        SvcacctCommand::Remove { key: access_key } => {
            let b = call(
                c,
                Call::DeleteServiceAccount,
                &[("accessKey", &access_key)],
                V3Body::None,
            )
            .await?;
            done(json, &b, format!("Removed service account `{access_key}`."))
        }
        SvcacctCommand::Info { key: access_key } => {
            let b = call(
                c,
                Call::InfoServiceAccount,
                &[("accessKey", &access_key)],
                V3Body::None,
            )
            .await?;
            if json {
                print_json(&b);
            } else {
                let i: InfoServiceAccountResp = parse(&b)?;
                print!(
                    "{}",
                    table(&[
                        vec!["AccessKey:".into(), access_key],
                        vec!["ParentUser:".into(), i.parent_user],
                        vec!["Status:".into(), i.account_status],
                        vec!["Name:".into(), i.name],
                        vec!["Description:".into(), i.description],
                        vec![
                            "Policy:".into(),
                            if i.implied_policy {
                                "implied (the parent's)".into()
                            } else {
                                "embedded".into()
                            }
                        ],
                        vec![
                            "Expiration:".into(),
                            i.expiration.unwrap_or_else(|| "no expiry".into())
                        ],
                    ])
                );
                if !i.implied_policy {
                    println!("{}", i.policy);
                }
            }
            EXIT_OK
        }
        SvcacctCommand::List { user } => {
            let user = user.unwrap_or_default();
            let q: Vec<(&str, &str)> = if user.is_empty() {
                vec![]
            } else {
                vec![("user", user.as_str())]
            };
            let b = call(c, Call::ListServiceAccounts, &q, V3Body::None).await?;
            if json {
                print_json(&b);
            } else {
                let l: ListServiceAccountsResp = parse(&b)?;
                let mut rows = vec![vec![
                    "ACCESS KEY".into(),
                    "PARENT".into(),
                    "STATUS".into(),
                    "POLICY".into(),
                    "NAME".into(),
                ]];
                for a in l.accounts {
                    rows.push(vec![
                        a.access_key,
                        a.parent_user,
                        a.account_status,
                        if a.implied_policy {
                            "implied".into()
                        } else {
                            "embedded".into()
                        },
                        a.name,
                    ]);
                }
                print!("{}", table(&rows));
            }
            EXIT_OK
        }
        SvcacctCommand::Edit {
            key: access_key,
            enable,
            disable,
            new_secret_key,
            policy,
        } => {
            let new_policy = match policy {
                Some(f) => Some(read_json_file(&f)?),
                None => None,
            };
            let new_status = match (enable, disable) {
                (true, _) => "on",
                (_, true) => "off",
                _ => "",
            };
            let req = UpdateServiceAccountReq {
                new_policy,
                new_secret_key: new_secret_key.unwrap_or_default(),
                new_status: new_status.into(),
                ..Default::default()
            };
            let b = call(
                c,
                Call::UpdateServiceAccount,
                &[("accessKey", &access_key)],
                enc(&req),
            )
            .await?;
            done(json, &b, format!("Updated service account `{access_key}`."))
        }
    })
}
