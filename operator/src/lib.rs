//! `cairn-operator`: turns a `Tenant` resource into the Kubernetes objects that run a Cairn
//! storage cluster.
//!
//! The layers (see `DESIGN.md`), top to bottom, each usable without the next:
//!
//! * [`crd`]: the `Tenant` types, their defaults and validation, and the generated CRD;
//! * [`render`]: pure functions from a Tenant (plus the Secrets it references and what was
//!   observed in the cluster) to every object the operator wants to exist;
//! * [`tls`]: the per-tenant CA and server certificate; [`prometheus_token`]: the bearer
//!   token (an HS512 JWT, [`jwt`]) the ServiceMonitor scrapes the tenant with;
//! * [`reconcile`]: the controller that applies the rendered objects, rolls pods, expands
//!   volumes and reports status; [`provision`] and [`tenant`]: talking to the running tenant.
//!
//! [`geometry`] and [`config_env`] hold the rules the operator shares with the server, so
//! that it refuses what the server would refuse before any pod starts. [`load`] reads
//! manifests the way `kubectl apply -f` does, and [`cli`] is the `render` command built on
//! it, kept in the library so tests drive exactly what the binary does.

pub mod cli;
pub mod config_env;
pub mod crd;
pub mod geometry;
pub mod jwt;
pub mod load;
pub mod prometheus_token;
pub mod provision;
pub mod reconcile;
pub mod render;
pub mod tenant;
pub mod tls;
