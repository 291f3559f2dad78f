//! Cairn storage server: an erasure-coded, S3-compatible object store.
//!
//! The modules follow the layers of `DESIGN.md`, top to bottom: `front` (HTTP, TLS,
//! health), `s3` (wire protocol, SigV4), `iam` (identities, policies, the permission
//! check's state), `objects` (buckets, objects, listing,
//! multipart), `erasure` (Reed-Solomon and bitrot), `drive` (one trait: local
//! directories and peers' drives), `cluster` (endpoints, sets, format, start-up
//! handshake, quorum locks) and `heal`. `rpc` is the peer protocol that the remote drive,
//! the locks and the start-up handshake speak; it sits beside `drive`, and its server
//! side is routed by `front`. A layer only calls the one below it.
//! `body` holds the HTTP response body type that every API shares, below all of them,
//! and `duration` the one parser of durations in settings;
//! `cli` is the binary's command line, `config` resolves its settings.
//! `audit` sits beside the S3 port: one entry per S3 call, posted to webhooks.
//! `console` (the web console on its own port) sits above the front: it acts through
//! the front's application with ordinary signed S3 and admin requests.
//! `lifecycle` (bucket lifecycle rules and the worker that expires objects) sits above
//! `objects`, below `s3`.
//! `crypto` (server-side encryption: KMS, object keys, encrypted packages) sits below
//! `s3`, which seals bodies before the object layer stores them and opens what it reads.

pub mod admin;
pub mod audit;
pub mod body;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod console;
pub mod crypto;
pub mod drive;
pub mod duration;
pub mod erasure;
pub mod front;
pub mod heal;
pub mod iam;
pub mod lifecycle;
pub mod objects;
pub mod remote;
pub mod rpc;
pub mod s3;
pub mod server;
