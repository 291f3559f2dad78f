//! Layer 3: identity and access. Who signed a request (root, a user, a service account,
//! an STS session, or nobody) and whether that identity may make it, under AWS's policy
//! language (`cairn_policy`): identity policies attached to users and groups, inline
//! policies that narrow service accounts and sessions, and bucket policies.
//!
//! The state (users, groups, named policies, service accounts) is one sealed document
//! in the system volume (`store`), changed only under a deployment-wide lock; every
//! server keeps a parsed snapshot of it in memory and looks for a newer stored version
//! every [`REFRESH_INTERVAL`], so a change made through any server is enforced by all of
//! them within a second. Requests never wait for storage: authentication and
//! authorization read only the snapshot.

pub mod caller;
pub mod error;
pub mod seal;
pub mod state;
pub mod store;
pub mod sts;

use cairn_policy::Policy;
pub use caller::{Caller, Kind};
pub use error::{IamError, IamResult};
use state::{IamState, Status};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use store::{Keys, Store};

use crate::objects::ObjectLayer;

/// How often a server looks for IAM changes made through another server (one metadata
/// read of the state document).
pub const REFRESH_INTERVAL: Duration = Duration::from_millis(500);
/// Longest a start-up waits for the first load before serving with root only.
const FIRST_LOAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request that named an unknown access key waits for a reload.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(2);

/// The root credentials, and the previous ones during a rotation.
#[derive(Clone)]
pub struct RootCredentials {
    pub user: String,
    pub password: String,
    pub previous: Option<(String, String)>,
}

impl std::fmt::Debug for RootCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootCredentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("previous", &self.previous.as_ref().map(|(u, _)| u))
            .finish()
    }
}

/// A parsed view of one version of the state.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub state: IamState,
    /// ETag of the stored document it was read from.
    etag: Option<String>,
    /// Whether it came from storage (false until the first load succeeds).
    loaded: bool,
    /// Named and canned policies, parsed.
    policies: HashMap<String, Arc<Policy>>,
    /// Inline policies of service accounts, parsed; `None` for one that no longer
    /// parses, which then may do nothing.
    account_policies: HashMap<String, Option<Arc<Policy>>>,
    /// [`Self::grants`] per user, filled as requests come: finding a user's groups scans
    /// every group, which would otherwise happen on every request. Valid as long as this
    /// snapshot: any change installs a new snapshot with an empty cache.
    grants_cache: Mutex<HashMap<String, Grants>>,
}

/// A user's enabled groups and the policies of the user and of those groups.
type Grants = (Vec<String>, Vec<Arc<Policy>>);

/// Users whose grants a snapshot keeps at most (the cache is cleared when full).
const GRANTS_CACHE_MAX: usize = 10_000;

impl Snapshot {
    fn new(state: IamState, etag: Option<String>, loaded: bool) -> Self {
        let mut policies = HashMap::new();
        for name in cairn_policy::CANNED {
            if let Some(p) = cairn_policy::canned(name) {
                policies.insert((*name).to_string(), Arc::new(p));
            }
        }
        for (name, p) in &state.policies {
            match Policy::parse(p.document.as_bytes()) {
                Ok(p) => {
                    policies.insert(name.clone(), Arc::new(p));
                }
                // Validated when stored; one that no longer parses grants nothing.
                Err(e) => {
                    tracing::warn!(policy = %name, error = %e, "stored policy does not parse")
                }
            }
        }
        let mut account_policies = HashMap::new();
        for (ak, sa) in &state.service_accounts {
            if let Some(doc) = &sa.policy {
                match Policy::parse(doc.as_bytes()) {
                    Ok(p) => {
                        account_policies.insert(ak.clone(), Some(Arc::new(p)));
                    }
                    Err(e) => {
                        // Fail closed: an account whose narrowing cannot be read may do
                        // nothing, rather than everything its parent may.
                        tracing::warn!(access_key = %ak, error = %e, "service account policy does not parse");
                        account_policies.insert(ak.clone(), None);
                    }
                }
            }
        }
        Self {
            state,
            etag,
            loaded,
            policies,
            account_policies,
            grants_cache: Mutex::new(HashMap::new()),
        }
    }

    /// [`Self::grants`] of a user of this snapshot, computed once per snapshot.
    fn user_grants(&self, user: &str, own: &[String]) -> Grants {
        if let Ok(cache) = self.grants_cache.lock() {
            if let Some(g) = cache.get(user) {
                return g.clone();
            }
        }
        let g = self.grants(user, own);
        if let Ok(mut cache) = self.grants_cache.lock() {
            if cache.len() >= GRANTS_CACHE_MAX {
                cache.clear();
            }
            cache.insert(user.to_string(), g.clone());
        }
        g
    }

    /// The policies of `user` and of its enabled groups, and those groups.
    fn grants(&self, user: &str, own: &[String]) -> Grants {
        let mut groups = Vec::new();
        let mut names: Vec<&String> = own.iter().collect();
        for (g, group) in &self.state.groups {
            if group.status == Status::Enabled && group.members.contains(user) {
                groups.push(g.clone());
                names.extend(group.policies.iter());
            }
        }
        let mut out: Vec<Arc<Policy>> = Vec::new();
        for n in names {
            if let Some(p) = self.policies.get(n) {
                if !out.iter().any(|q| Arc::ptr_eq(q, p)) {
                    out.push(p.clone());
                }
            }
        }
        (groups, out)
    }

    /// The parsed named policy `name` (stored or canned).
    pub fn policy(&self, name: &str) -> Option<&Arc<Policy>> {
        self.policies.get(name)
    }
}

pub struct Iam {
    root: RootCredentials,
    keys: Keys,
    store: Store,
    snapshot: RwLock<Arc<Snapshot>>,
    /// Serialises this server's own changes (the store lock serialises servers).
    updating: tokio::sync::Mutex<()>,
    /// Serialises reloads; holds when the latest one started, so a request that missed
    /// an access key waits for a reload that started after it asked, and no more.
    reloading: tokio::sync::Mutex<Instant>,
    /// Last refresh error, logged once until it changes.
    last_error: Mutex<Option<String>>,
}

impl std::fmt::Debug for Iam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iam").field("root", &self.root).finish()
    }
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Iam {
    /// Loads the state (waiting up to [`FIRST_LOAD_TIMEOUT`]: a cluster may still be
    /// gathering quorum, and until the load succeeds only root can sign in), re-seals it
    /// if it was sealed with the previous root credentials, and starts the refresh loop,
    /// which ends when `shutdown` turns true.
    pub async fn start(
        objects: Arc<ObjectLayer>,
        root: RootCredentials,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Arc<Self> {
        let keys = Keys {
            current: seal::SealKey::from_root(&root.user, &root.password),
            previous: root
                .previous
                .as_ref()
                .map(|(u, p)| seal::SealKey::from_root(u, p)),
        };
        let iam = Arc::new(Self {
            root,
            keys,
            store: Store::new(objects),
            snapshot: RwLock::new(Arc::new(Snapshot::new(IamState::default(), None, false))),
            updating: tokio::sync::Mutex::new(()),
            reloading: tokio::sync::Mutex::new(Instant::now()),
            last_error: Mutex::new(None),
        });
        match tokio::time::timeout(FIRST_LOAD_TIMEOUT, iam.reload()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => iam.note_error(&e),
            Err(_) => tracing::warn!(
                "IAM: the state could not be read yet; retrying in the background (only root can sign in until then)"
            ),
        }
        tokio::spawn(iam.clone().refresh_loop(shutdown));
        iam
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self.snapshot.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Installs `snap` unless the snapshot held is of a later revision (a slow reload
    /// that read the document before a change must not undo it here).
    fn install(&self, snap: Snapshot) {
        let snap = Arc::new(snap);
        let mut held = match self.snapshot.write() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        if !held.loaded || held.state.revision <= snap.state.revision {
            *held = snap;
        }
    }

    fn note_error(&self, e: &IamError) {
        let msg = e.to_string();
        if let Ok(mut last) = self.last_error.lock() {
            if last.as_deref() != Some(msg.as_str()) {
                tracing::warn!(error = %msg, "IAM: cannot load the state");
                *last = Some(msg);
            }
        }
    }

    /// Loads the stored state if it differs from the snapshot.
    async fn reload(&self) -> IamResult<()> {
        let mut started = self.reloading.lock().await;
        *started = Instant::now();
        let current = self.snapshot();
        let etag = self.store.etag().await?;
        if current.loaded && etag == current.etag {
            return Ok(());
        }
        let loaded = self.store.load(&self.keys).await?;
        if loaded.needs_reseal {
            // Sealed with the previous root credentials: seal again with the current.
            let _guard = self.store.lock().await?;
            let again = self.store.load(&self.keys).await?;
            let etag = self.store.save(&again.state, &self.keys).await?;
            tracing::info!("IAM: state re-sealed with the current root credentials");
            self.install(Snapshot::new(again.state, Some(etag), true));
        } else {
            self.install(Snapshot::new(loaded.state, loaded.etag, true));
        }
        if let Ok(mut last) = self.last_error.lock() {
            if last.take().is_some() {
                tracing::info!("IAM: state loaded");
            }
        }
        Ok(())
    }

    async fn refresh_loop(self: Arc<Self>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(REFRESH_INTERVAL) => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                return;
            }
            match tokio::time::timeout(Duration::from_secs(10), self.reload()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => self.note_error(&e),
                Err(_) => self.note_error(&IamError::Storage(
                    crate::objects::error::ObjectError::Internal("timed out".into()),
                )),
            }
        }
    }

    /// Reloads the state now if no reload started since this call, and tells whether
    /// the snapshot changed. Called when a request names an access key this server does
    /// not know: a user created through another server a moment ago signs in at once
    /// instead of after the next periodic reload. Misses are coalesced (one reload
    /// answers every miss that came before it started), so unknown keys sent in a loop
    /// cost at most one metadata read at a time.
    pub async fn catch_up(&self) -> bool {
        let asked = Instant::now();
        let before = self.snapshot();
        {
            let started = self.reloading.lock().await;
            if *started >= asked {
                drop(started);
                return !Arc::ptr_eq(&before, &self.snapshot());
            }
        }
        match tokio::time::timeout(CATCH_UP_TIMEOUT, self.reload()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.note_error(&e),
            Err(_) => tracing::debug!("IAM: on-demand reload timed out"),
        }
        !Arc::ptr_eq(&before, &self.snapshot())
    }

    /// Applies `change` to the latest stored state and stores the result; every server
    /// enforces it within [`REFRESH_INTERVAL`], this one at once. On error nothing is
    /// stored.
    pub async fn update<T>(
        &self,
        change: impl FnOnce(&mut IamState, i64) -> IamResult<T>,
    ) -> IamResult<T> {
        let _local = self.updating.lock().await;
        let _guard = self.store.lock().await?;
        let loaded = self.store.load(&self.keys).await?;
        let mut state = loaded.state;
        let out = change(&mut state, now_ms())?;
        state.revision = state.revision.wrapping_add(1);
        let etag = self.store.save(&state, &self.keys).await?;
        self.install(Snapshot::new(state, Some(etag), true));
        Ok(out)
    }

    pub fn root_user(&self) -> &str {
        &self.root.user
    }

    /// Resolves a signing access key (and the session token the request carried) to its
    /// secret and caller. `NoSuchUser` when the key is unknown; a disabled or expired
    /// identity, or a token that does not belong to the key, is refused.
    pub fn resolve(&self, access_key: &str, token: Option<&str>) -> IamResult<(String, Caller)> {
        let snap = self.snapshot();
        let now = now_ms();
        if let Some(token) = token.filter(|t| !t.is_empty()) {
            let session = sts::open(&self.keys.current, token, now)?;
            if session.access_key != access_key {
                return Err(IamError::AccessDenied(
                    "the session token does not belong to this access key".into(),
                ));
            }
            let mut caller = self.parent_caller(&snap, &session.parent, Kind::Session)?;
            caller.access_key = session.access_key.clone();
            if let Some(doc) = &session.policy {
                // Checked when issued; the token is sealed, so this parses.
                let p = Policy::parse(doc.as_bytes())
                    .map_err(|e| IamError::MalformedPolicy(e.to_string()))?;
                caller.narrowing = Some(Arc::new(p));
            }
            return Ok((session.secret, caller));
        }
        if access_key == self.root.user {
            return Ok((
                self.root.password.clone(),
                Caller {
                    kind: Kind::Root,
                    access_key: access_key.to_string(),
                    user: access_key.to_string(),
                    groups: Vec::new(),
                    policies: Vec::new(),
                    narrowing: None,
                    root_child: false,
                },
            ));
        }
        if let Some(u) = snap.state.users.get(access_key) {
            let caller = self.parent_caller(&snap, access_key, Kind::User)?;
            return Ok((u.secret.clone(), caller));
        }
        if let Some(sa) = snap.state.service_accounts.get(access_key) {
            if sa.status != Status::Enabled {
                return Err(IamError::AccessDenied(
                    "the service account is disabled".into(),
                ));
            }
            if sa.expiration_ms.is_some_and(|e| e <= now) {
                return Err(IamError::AccessDenied(
                    "the service account has expired".into(),
                ));
            }
            let mut caller = self.parent_caller(&snap, &sa.parent, Kind::ServiceAccount)?;
            caller.access_key = access_key.to_string();
            caller.narrowing = match snap.account_policies.get(access_key) {
                None => None,
                Some(Some(p)) => Some(p.clone()),
                Some(None) => {
                    return Err(IamError::AccessDenied(
                        "the service account's policy cannot be read".into(),
                    ));
                }
            };
            return Ok((sa.secret.clone(), caller));
        }
        Err(IamError::NoSuchUser(access_key.to_string()))
    }

    /// The caller acting with `parent`'s permissions (itself for a user).
    fn parent_caller(&self, snap: &Snapshot, parent: &str, kind: Kind) -> IamResult<Caller> {
        if parent == self.root.user {
            return Ok(Caller {
                kind,
                access_key: parent.to_string(),
                user: parent.to_string(),
                groups: Vec::new(),
                policies: Vec::new(),
                narrowing: None,
                root_child: true,
            });
        }
        let u = snap
            .state
            .users
            .get(parent)
            .ok_or_else(|| IamError::NoSuchUser(parent.to_string()))?;
        if u.status != Status::Enabled {
            return Err(IamError::AccessDenied(format!(
                "the user {parent:?} is disabled"
            )));
        }
        let (groups, policies) = snap.user_grants(parent, &u.policies);
        Ok(Caller {
            kind,
            access_key: parent.to_string(),
            user: parent.to_string(),
            groups,
            policies,
            narrowing: None,
            root_child: false,
        })
    }

    /// Issues temporary credentials for `caller` (STS `AssumeRole`): a root or user
    /// caller only (no chaining of sessions, as AWS refuses role chaining beyond 1 h and
    /// MinIO refuses it for service accounts).
    pub fn assume_role(
        &self,
        caller: &Caller,
        duration_secs: i64,
        session_policy: Option<&str>,
    ) -> IamResult<(sts::Session, String)> {
        if !matches!(caller.kind, Kind::Root | Kind::User) {
            return Err(IamError::AccessDenied(
                "only users and the root user can assume a role".into(),
            ));
        }
        let mut values = cairn_policy::Values::new();
        caller.describe(&mut values);
        let principal = caller.principal();
        let mut req = cairn_policy::Request::new("sts:AssumeRole", &values);
        if let Some(p) = principal.as_ref() {
            req = req.with_caller(p);
        }
        if caller.explicitly_denies(&req) {
            return Err(IamError::AccessDenied(
                "a policy of the caller explicitly denies sts:AssumeRole".into(),
            ));
        }
        if !(sts::MIN_DURATION_SECS..=sts::MAX_DURATION_SECS).contains(&duration_secs) {
            return Err(IamError::InvalidArgument(format!(
                "DurationSeconds must be between {} and {}",
                sts::MIN_DURATION_SECS,
                sts::MAX_DURATION_SECS
            )));
        }
        if let Some(doc) = session_policy {
            if doc.len() > sts::MAX_SESSION_POLICY {
                return Err(IamError::InvalidArgument(format!(
                    "the session policy is longer than {} characters",
                    sts::MAX_SESSION_POLICY
                )));
            }
            state::parse_policy(doc.as_bytes())?;
        }
        let session = sts::Session {
            access_key: random_key(20),
            secret: random_key(40),
            parent: caller.user.clone(),
            expires_ms: now_ms() + duration_secs * 1000,
            policy: session_policy.map(str::to_string),
        };
        let token = sts::issue(&self.keys.current, &session);
        Ok((session, token))
    }
}

/// A random key of `len` characters from MinIO's alphabet for generated keys
/// (upper-case letters and digits).
pub fn random_key(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drive::DriveRef;
    use crate::drive::local::LocalDrive;

    fn root() -> RootCredentials {
        RootCredentials {
            user: "rootuser".into(),
            password: "rootpassword".into(),
            previous: None,
        }
    }

    /// An object layer over four fresh directories (a 2+2 set).
    fn objects(dir: &std::path::Path) -> Arc<ObjectLayer> {
        let drives: Vec<DriveRef> = (0..4)
            .map(|i| {
                let p = dir.join(format!("d{i}"));
                std::fs::create_dir_all(p.join(".cairn.sys")).unwrap();
                let d = LocalDrive::new(p, false);
                d.prepare();
                Arc::new(d) as DriveRef
            })
            .collect();
        Arc::new(ObjectLayer::new(vec![vec![drives]], 2, 7).unwrap())
    }

    /// Creates the user alice (secret `alice-secret`) with one named policy.
    async fn add_alice(iam: &Iam, policy: &str) {
        iam.update(|s, now| {
            s.set_user(
                "rootuser",
                "alice",
                "alice-secret",
                None,
                Some(vec![policy.to_string()]),
                now,
            )
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn changes_are_stored_sealed_and_seen_by_another_instance() {
        let dir = tempfile::tempdir().unwrap();
        let layer = objects(dir.path());
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let a = Iam::start(layer.clone(), root(), rx.clone()).await;
        assert!(a.resolve("alice", None).is_err());
        add_alice(&a, "readonly").await;
        let (secret, caller) = a.resolve("alice", None).unwrap();
        assert_eq!(secret, "alice-secret");
        assert_eq!(caller.kind, Kind::User);
        assert!(!caller.is_owner());

        // A second instance (another server) reads the same state from the drives.
        let b = Iam::start(layer.clone(), root(), rx.clone()).await;
        assert_eq!(b.resolve("alice", None).unwrap().0, "alice-secret");
        // ...and sees a later change within the refresh interval.
        a.update(|s, now| s.set_user_status("alice", Status::Disabled, now))
            .await
            .unwrap();
        tokio::time::sleep(REFRESH_INTERVAL * 3).await;
        assert!(b.resolve("alice", None).is_err(), "disabled everywhere");

        // The secret is nowhere in clear on the drives.
        let mut found = false;
        for entry in walk(dir.path()) {
            let bytes = std::fs::read(&entry).unwrap();
            found |= bytes.windows(12).any(|w| w == b"alice-secret");
        }
        assert!(!found, "a secret was stored in clear");
    }

    #[tokio::test]
    async fn a_key_created_through_another_server_signs_in_after_catching_up() {
        let dir = tempfile::tempdir().unwrap();
        let layer = objects(dir.path());
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let a = Iam::start(layer.clone(), root(), rx).await;
        // b's periodic reload is stopped: only catching up can bring it the change.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let b = Iam::start(layer, root(), stopped).await;
        stop.send(true).unwrap();
        add_alice(&a, "readonly").await;
        tokio::time::sleep(REFRESH_INTERVAL * 2).await;
        assert!(matches!(
            b.resolve("alice", None),
            Err(IamError::NoSuchUser(_))
        ));
        assert!(b.catch_up().await, "the snapshot changed");
        assert_eq!(b.resolve("alice", None).unwrap().0, "alice-secret");
        assert!(!b.catch_up().await, "nothing new");
    }

    #[tokio::test]
    async fn a_reload_never_installs_an_older_revision() {
        let dir = tempfile::tempdir().unwrap();
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let iam = Iam::start(objects(dir.path()), root(), rx).await;
        let before = iam.snapshot().state.clone();
        add_alice(&iam, "readonly").await;
        assert!(iam.snapshot().state.revision > before.revision);
        // What a reload that read the document before the change would install.
        iam.install(Snapshot::new(before, Some("old".into()), true));
        assert!(iam.resolve("alice", None).is_ok(), "the change is kept");
    }

    #[tokio::test]
    async fn expired_and_foreign_session_tokens_say_so() {
        let dir = tempfile::tempdir().unwrap();
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let iam = Iam::start(objects(dir.path()), root(), rx).await;
        add_alice(&iam, "readwrite").await;
        let session = sts::Session {
            access_key: "STSKEY".into(),
            secret: "sts-secret".into(),
            parent: "alice".into(),
            expires_ms: now_ms() - 1,
            policy: None,
        };
        let token = sts::issue(&iam.keys.current, &session);
        assert!(matches!(
            iam.resolve("STSKEY", Some(&token)),
            Err(IamError::ExpiredToken)
        ));
        assert!(matches!(
            iam.resolve("STSKEY", Some("cairn1.garbage")),
            Err(IamError::InvalidToken(_))
        ));
    }

    #[tokio::test]
    async fn an_explicit_deny_of_assume_role_is_honoured() {
        let dir = tempfile::tempdir().unwrap();
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let iam = Iam::start(objects(dir.path()), root(), rx).await;
        add_alice(&iam, "readwrite").await;
        let (_, alice) = iam.resolve("alice", None).unwrap();
        assert!(
            iam.assume_role(&alice, 900, None).is_ok(),
            "allowed unless denied"
        );
        iam.update(|s, now| {
            s.set_policy(
                "no-sts",
                br#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["sts:AssumeRole"],"Resource":["*"]}]}"#,
                now,
            )?;
            s.change_policies(
                &state::PolicyTarget::User("alice".into()),
                &["no-sts".to_string()],
                state::PolicyChange::Attach,
                now,
            )
        })
        .await
        .unwrap();
        let (_, alice) = iam.resolve("alice", None).unwrap();
        assert!(matches!(
            iam.assume_role(&alice, 900, None),
            Err(IamError::AccessDenied(_))
        ));
    }

    #[tokio::test]
    async fn other_root_credentials_cannot_open_the_state_until_previous_are_given() {
        let dir = tempfile::tempdir().unwrap();
        let layer = objects(dir.path());
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let a = Iam::start(layer.clone(), root(), rx.clone()).await;
        a.update(|s, now| s.set_user("rootuser", "alice", "alice-secret", None, None, now))
            .await
            .unwrap();
        let rotated = RootCredentials {
            user: "rootuser".into(),
            password: "newpassword".into(),
            previous: None,
        };
        let b = Iam::start(layer.clone(), rotated.clone(), rx.clone()).await;
        assert!(b.resolve("alice", None).is_err());
        assert!(b.resolve("rootuser", None).is_ok(), "root still signs in");
        assert!(
            b.update(|_, _| Ok(())).await.is_err(),
            "nothing is overwritten"
        );
        let c = Iam::start(
            layer.clone(),
            RootCredentials {
                previous: Some(("rootuser".into(), "rootpassword".into())),
                ..rotated.clone()
            },
            rx.clone(),
        )
        .await;
        assert_eq!(c.resolve("alice", None).unwrap().0, "alice-secret");
        // Re-sealed: the new credentials alone now open it.
        let d = Iam::start(layer, rotated, rx).await;
        assert_eq!(d.resolve("alice", None).unwrap().0, "alice-secret");
    }

    #[tokio::test]
    async fn sessions_carry_their_parent_and_narrowing() {
        let dir = tempfile::tempdir().unwrap();
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let iam = Iam::start(objects(dir.path()), root(), rx).await;
        add_alice(&iam, "readwrite").await;
        let (_, alice) = iam.resolve("alice", None).unwrap();
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::b/*"]}]}"#;
        let (session, token) = iam.assume_role(&alice, 900, Some(policy)).unwrap();
        let (secret, caller) = iam.resolve(&session.access_key, Some(&token)).unwrap();
        assert_eq!(secret, session.secret);
        assert_eq!(caller.kind, Kind::Session);
        assert_eq!(caller.user, "alice");
        let values = cairn_policy::Values::new();
        let p = caller.principal();
        let get = cairn_policy::Request::new("s3:GetObject", &values)
            .with_bucket("b")
            .with_key("k");
        let put = cairn_policy::Request::new("s3:PutObject", &values)
            .with_bucket("b")
            .with_key("k");
        let (get, put) = match p.as_ref() {
            Some(p) => (get.with_caller(p), put.with_caller(p)),
            None => (get, put),
        };
        assert!(caller.is_allowed(&get, None));
        assert!(
            !caller.is_allowed(&put, None),
            "the session policy narrows readwrite"
        );
        assert!(alice.is_allowed(&put, None));
        // The token is bound to its key, and sessions cannot assume roles.
        assert!(iam.resolve("OTHERKEY", Some(&token)).is_err());
        assert!(iam.assume_role(&caller, 900, None).is_err());
        assert!(
            iam.assume_role(&alice, 60, None).is_err(),
            "below 15 minutes"
        );
    }

    #[tokio::test]
    async fn cached_grants_follow_every_change_of_users_groups_and_policies() {
        use state::{PolicyChange, PolicyTarget};
        let dir = tempfile::tempdir().unwrap();
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let iam = Iam::start(objects(dir.path()), root(), rx).await;
        add_alice(&iam, "readonly").await;
        let values = cairn_policy::Values::new();
        let may_put = |iam: &Iam| {
            let (_, c) = iam.resolve("alice", None).unwrap();
            let p = c.principal().unwrap();
            let req = cairn_policy::Request::new("s3:PutObject", &values)
                .with_bucket("b")
                .with_key("k")
                .with_caller(&p);
            (c.groups.clone(), c.is_allowed(&req, None))
        };
        // Resolved twice: the second comes from the cache, and says the same.
        assert_eq!(may_put(&iam), (vec![], false));
        assert_eq!(may_put(&iam), (vec![], false));
        // A group with readwrite, alice joins it: seen at once.
        iam.update(|s, now| {
            s.update_group_members("writers", &["alice".to_string()], false, None, now)?;
            s.change_policies(
                &PolicyTarget::Group("writers".into()),
                &["readwrite".to_string()],
                PolicyChange::Attach,
                now,
            )
            .map(|_| ())
        })
        .await
        .unwrap();
        assert_eq!(may_put(&iam), (vec!["writers".to_string()], true));
        // The group disabled: its policies no longer apply.
        iam.update(|s, now| s.set_group_status("writers", Status::Disabled, now))
            .await
            .unwrap();
        assert_eq!(may_put(&iam), (vec![], false));
        assert_eq!(may_put(&iam), (vec![], false));
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.push(p);
                }
            }
        }
        out
    }
}
