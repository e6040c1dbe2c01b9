//! The cluster's own RBAC, reconciled from the chain: the second gate.
//!
//! The contract approves an operation; the node executes it impersonating the requester, and
//! the API server's authorizer checks it again against what *it* resolved. For that check to
//! say what the contract says, the node keeps RBAC in step with the tokens:
//!
//! - preset roles: `deploy/rbac-groups.yaml` binds the groups cluster-wide for what crosses
//!   namespaces (Kubernetes' `view`; `sui:admin`'s cluster-scoped resources), and the node
//!   binds `sui:edit` to `edit` and `sui:admin` to `cluster-admin` in each namespace it
//!   executes a request in, never in a protected one;
//! - explicit rules (`sui:custom`): a Role with exactly the rules that apply in the namespace,
//!   bound to the user `sui:<address>`, and a ClusterRole with the cluster-scope and
//!   non-resource rules, bound cluster-wide, named after the token.
//!
//! Bindings are made before the first request that needs them and remade after any token
//! event; a revoked or unstaked token's objects are deleted. This module only writes RBAC
//! objects named `sui:*`; it never executes a user's request.

use std::collections::HashSet;
use std::sync::Mutex;

use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::ObjectMeta;
use sui_sdk_types::Address;

use crate::contract::objects::Rule;
use crate::contract::{Role as TokenRole, Verb};
use crate::envelope::{RequestInfo, Target};

/// How long new RBAC objects may take to reach the API server's authorizer.
pub const EFFECTIVE_WITHIN: std::time::Duration = std::time::Duration::from_secs(3);

/// The field manager of every object the node applies.
const MANAGER: &str = "nautilus";
/// The label on every object the node makes for a token (label values cannot hold a Sui
/// address: the object's name does).
pub const TOKEN_LABEL: &str = "kubectl-sui.io/managed-for";

/// What the node must make the cluster grant before one request runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant<'a> {
    /// The token.
    pub token: Address,
    /// Its holder, impersonated as `sui:<address>`.
    pub requester: Address,
    /// The token's role.
    pub role: TokenRole,
    /// The token's explicit rules (custom tokens).
    pub rules: &'a [Rule],
    /// The request's namespace (`""`: cluster scope or across namespaces).
    pub namespace: &'a str,
}

/// The RBAC objects the node keeps.
pub struct Reconciler {
    client: kube::Client,
    /// What is in place: (token or group, namespace), so each is applied once.
    done: Mutex<HashSet<(String, String)>>,
}

/// The RBAC verbs of a rule's verb mask: the eight the contract knows, never `*`, `bind`,
/// `escalate` or `impersonate`.
pub fn rbac_verbs(mask: u16) -> Vec<String> {
    Verb::ALL.into_iter().filter(|v| mask & v.bit() != 0).map(|v| v.as_str().to_string()).collect()
}

/// The session subresources, and the rule resources that cover each.
const SESSION_RESOURCES: [(&str, [&str; 3]); 3] = [
    ("pods/exec", ["pods/exec", "*/exec", "*"]),
    ("pods/attach", ["pods/attach", "*/attach", "*"]),
    ("pods/portforward", ["pods/portforward", "*/portforward", "*"]),
];

/// A session is `create` on its subresource on chain, and the node opens it with a WebSocket
/// `GET`, which kube-apiserver before 1.35 authorizes as `get`: a rule granting `create` on a
/// session subresource also grants `get` on it, and on nothing else.
fn session_get_rule(rule: &Rule) -> Option<PolicyRule> {
    if rule.verbs & Verb::Create.bit() == 0 || rule.verbs & Verb::Get.bit() != 0 {
        return None;
    }
    let covered: Vec<String> = SESSION_RESOURCES
        .iter()
        .filter(|(_, by)| rule.resources.iter().any(|r| by.contains(&r.as_str())))
        .map(|(session, _)| session.to_string())
        .collect();
    (!covered.is_empty()).then(|| PolicyRule {
        verbs: vec!["get".to_string()],
        api_groups: Some(rule.groups.clone()),
        resources: Some(covered),
        ..PolicyRule::default()
    })
}

/// The PolicyRules of `rules` that apply in `namespace` (a rule naming it, or `*` when it is
/// not protected); `namespace == ""` gives the cluster-scope and non-resource rules.
pub fn policy_rules(rules: &[Rule], namespace: &str, protected: &[String]) -> Vec<PolicyRule> {
    rules
        .iter()
        .flat_map(|r| {
            let rule = resource_or_url_rule(r, namespace, protected);
            let session = rule.as_ref().filter(|p| p.resources.is_some()).and_then(|_| session_get_rule(r));
            rule.into_iter().chain(session)
        })
        .collect()
}

/// The PolicyRule of one token rule in `namespace`, if it applies there.
fn resource_or_url_rule(r: &Rule, namespace: &str, protected: &[String]) -> Option<PolicyRule> {
    if !r.non_resource_urls.is_empty() {
        return namespace.is_empty().then(|| PolicyRule {
            verbs: rbac_verbs(r.verbs),
            non_resource_urls: Some(r.non_resource_urls.clone()),
            ..PolicyRule::default()
        });
    }
    let applies = r
        .namespaces
        .iter()
        .any(|n| n == namespace || (n == "*" && !namespace.is_empty() && !protected.iter().any(|p| p == namespace)));
    applies.then(|| PolicyRule {
        verbs: rbac_verbs(r.verbs),
        api_groups: Some(r.groups.clone()),
        resources: Some(r.resources.clone()),
        ..PolicyRule::default()
    })
}

/// The name of a token's RBAC objects.
pub fn token_object_name(token: &Address) -> String {
    format!("sui:token:{token}")
}

/// A delete's outcome, a missing object counting as deleted.
fn gone<T>(result: Result<T, kube::Error>) -> Result<(), kube::Error> {
    match result {
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        other => other.map(|_| ()),
    }
}

fn meta(name: &str, namespace: Option<&str>, for_token: bool) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        labels: for_token.then(|| [(TOKEN_LABEL.to_string(), "token".to_string())].into()),
        ..ObjectMeta::default()
    }
}

fn role_ref(kind: &str, name: &str) -> RoleRef {
    RoleRef { api_group: "rbac.authorization.k8s.io".into(), kind: kind.into(), name: name.into() }
}

fn subject(kind: &str, name: &str) -> Subject {
    Subject {
        api_group: Some("rbac.authorization.k8s.io".into()),
        kind: kind.into(),
        name: name.into(),
        namespace: None,
    }
}

impl std::fmt::Debug for Reconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reconciler").field("done", &self.done).finish_non_exhaustive()
    }
}

impl Reconciler {
    /// A reconciler acting with the node's own credentials.
    pub fn new(client: kube::Client) -> Reconciler {
        Reconciler { client, done: Mutex::default() }
    }

    fn is_done(&self, who: &str, namespace: &str) -> bool {
        self.done.lock().expect("lock").contains(&(who.to_string(), namespace.to_string()))
    }

    fn mark_done(&self, who: &str, namespace: &str) {
        self.done.lock().expect("lock").insert((who.to_string(), namespace.to_string()));
    }

    /// Makes the cluster grant what `grant` needs, unless it already does; `protected` are
    /// the cluster policy's protected namespaces, where nothing is ever bound.
    /// Returns whether anything was applied (the API server's authorizer may take a moment
    /// to see it: [`Reconciler::wait_until_effective`]).
    pub async fn ensure(&self, grant: &Grant<'_>, protected: &[String]) -> Result<bool, kube::Error> {
        let mut applied = false;
        let namespace = grant.namespace;
        let bindable = !namespace.is_empty() && !protected.iter().any(|p| p == namespace);
        match grant.role {
            TokenRole::Edit | TokenRole::Admin if bindable => {
                let group = format!("sui:{}", grant.role.as_str());
                if self.is_done(&group, namespace) {
                    return Ok(false);
                }
                let target = if grant.role == TokenRole::Edit { "edit" } else { "cluster-admin" };
                let binding = RoleBinding {
                    metadata: meta(&group, Some(namespace), false),
                    role_ref: role_ref("ClusterRole", target),
                    subjects: Some(vec![subject("Group", &group)]),
                };
                self.apply(Api::<RoleBinding>::namespaced(self.client.clone(), namespace), &group, &binding).await?;
                self.mark_done(&group, namespace);
                applied = true;
            }
            TokenRole::Custom => {
                let token = grant.token.to_string();
                let name = token_object_name(&grant.token);
                let user = format!("sui:{}", grant.requester);
                if !self.is_done(&token, "") {
                    let role = ClusterRole {
                        metadata: meta(&name, None, true),
                        rules: Some(policy_rules(grant.rules, "", protected)),
                        aggregation_rule: None,
                    };
                    self.apply(Api::<ClusterRole>::all(self.client.clone()), &name, &role).await?;
                    let binding = ClusterRoleBinding {
                        metadata: meta(&name, None, true),
                        role_ref: role_ref("ClusterRole", &name),
                        subjects: Some(vec![subject("User", &user)]),
                    };
                    self.apply(Api::<ClusterRoleBinding>::all(self.client.clone()), &name, &binding).await?;
                    self.mark_done(&token, "");
                    applied = true;
                }
                if !namespace.is_empty() && !self.is_done(&token, namespace) {
                    let rules = policy_rules(grant.rules, namespace, protected);
                    if !rules.is_empty() {
                        let role = Role { metadata: meta(&name, Some(namespace), true), rules: Some(rules) };
                        self.apply(Api::<Role>::namespaced(self.client.clone(), namespace), &name, &role).await?;
                        let binding = RoleBinding {
                            metadata: meta(&name, Some(namespace), true),
                            role_ref: role_ref("Role", &name),
                            subjects: Some(vec![subject("User", &user)]),
                        };
                        self.apply(Api::<RoleBinding>::namespaced(self.client.clone(), namespace), &name, &binding)
                            .await?;
                        applied = true;
                    }
                    self.mark_done(&token, namespace);
                }
            }
            _ => {}
        }
        Ok(applied)
    }

    /// Waits (up to [`EFFECTIVE_WITHIN`]) until the API server's authorizer allows `info` for
    /// `user` in `groups`, after new RBAC objects: its caches follow writes within moments.
    /// Returns whether it does; when it does not, the request runs anyway and the API server
    /// answers for itself.
    pub async fn wait_until_effective(&self, user: &str, groups: &[String], info: &RequestInfo) -> bool {
        let api = Api::<SubjectAccessReview>::all(self.client.clone());
        let review = SubjectAccessReview {
            metadata: ObjectMeta::default(),
            spec: SubjectAccessReviewSpec {
                user: Some(user.to_string()),
                groups: Some(groups.to_vec()),
                resource_attributes: match &info.target {
                    Target::Resource { group, resource, subresource, namespace, name, .. } => {
                        Some(ResourceAttributes {
                            group: Some(group.clone()),
                            resource: Some(resource.clone()),
                            subresource: subresource.clone(),
                            namespace: Some(namespace.clone()),
                            name: Some(name.clone()),
                            verb: Some(info.verb.as_str().to_string()),
                            ..ResourceAttributes::default()
                        })
                    }
                    Target::NonResource { .. } => None,
                },
                non_resource_attributes: match &info.target {
                    Target::NonResource { path } => {
                        Some(NonResourceAttributes { path: Some(path.clone()), verb: Some("get".into()) })
                    }
                    Target::Resource { .. } => None,
                },
                ..SubjectAccessReviewSpec::default()
            },
            status: None,
        };
        let deadline = tokio::time::Instant::now() + EFFECTIVE_WITHIN;
        loop {
            match api.create(&PostParams::default(), &review).await {
                Ok(r) if r.status.as_ref().is_some_and(|s| s.allowed) => return true,
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "subject access review failed");
                    return false;
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    }

    /// Forgets what was applied for `token`: its next request applies its rules again.
    pub fn forget(&self, token: &Address) {
        let token = token.to_string();
        self.done.lock().expect("lock").retain(|(who, _)| *who != token);
    }

    /// Forgets every namespace binding: the protected namespaces changed.
    pub fn forget_all(&self) {
        self.done.lock().expect("lock").clear();
    }

    /// Deletes every RBAC object made for `token` (revoked or unstaked).
    pub async fn remove(&self, token: &Address) -> Result<(), kube::Error> {
        self.forget(token);
        let selector = ListParams::default().labels(&format!("{TOKEN_LABEL}=token"));
        let name = token_object_name(token);
        gone(Api::<ClusterRoleBinding>::all(self.client.clone()).delete(&name, &DeleteParams::default()).await)?;
        gone(Api::<ClusterRole>::all(self.client.clone()).delete(&name, &DeleteParams::default()).await)?;
        let named = |m: &ObjectMeta| m.name.as_deref() == Some(name.as_str());
        for binding in Api::<RoleBinding>::all(self.client.clone())
            .list(&selector)
            .await?
            .into_iter()
            .filter(|b| named(&b.metadata))
        {
            let ns = binding.metadata.namespace.unwrap_or_default();
            gone(
                Api::<RoleBinding>::namespaced(self.client.clone(), &ns).delete(&name, &DeleteParams::default()).await,
            )?;
        }
        for role in
            Api::<Role>::all(self.client.clone()).list(&selector).await?.into_iter().filter(|r| named(&r.metadata))
        {
            let ns = role.metadata.namespace.unwrap_or_default();
            gone(Api::<Role>::namespaced(self.client.clone(), &ns).delete(&name, &DeleteParams::default()).await)?;
        }
        Ok(())
    }

    /// Removes every `sui:*` binding from `namespace`, which became protected.
    pub async fn unbind_namespace(&self, namespace: &str) -> Result<(), kube::Error> {
        self.forget_all();
        let bindings = Api::<RoleBinding>::namespaced(self.client.clone(), namespace);
        let roles = Api::<Role>::namespaced(self.client.clone(), namespace);
        for binding in bindings.list(&ListParams::default()).await? {
            let name = binding.metadata.name.unwrap_or_default();
            if name.starts_with("sui:") {
                bindings.delete(&name, &DeleteParams::default()).await?;
            }
        }
        for role in roles.list(&ListParams::default()).await? {
            let name = role.metadata.name.unwrap_or_default();
            if name.starts_with("sui:") {
                roles.delete(&name, &DeleteParams::default()).await?;
            }
        }
        Ok(())
    }

    async fn apply<K>(&self, api: Api<K>, name: &str, object: &K) -> Result<(), kube::Error>
    where
        K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
        K::DynamicType: Default,
    {
        let mut object = serde_json::to_value(object).expect("RBAC objects serialise");
        object["apiVersion"] = "rbac.authorization.k8s.io/v1".into();
        object["kind"] = K::kind(&Default::default()).to_string().into();
        api.patch(name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(object)).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::access::parse_rule;

    fn rules(texts: &[&str]) -> Vec<Rule> {
        texts.iter().map(|t| parse_rule(t).unwrap()).collect()
    }

    #[test]
    fn rules_become_the_policy_rules_of_each_scope() {
        let protected = vec!["nautilus".to_string()];
        let token =
            rules(&["get,list:pods:team-a", "delete:configmaps", "get:nodes:", "get:/metrics", "get:secrets:nautilus"]);
        let in_a = policy_rules(&token, "team-a", &protected);
        assert_eq!(in_a.len(), 2, "{in_a:?}");
        assert_eq!(in_a[0].verbs, ["get", "list"]);
        assert_eq!(in_a[0].resources.as_deref(), Some(&["pods".to_string()][..]));
        assert_eq!(in_a[1].verbs, ["delete"]);
        let in_b = policy_rules(&token, "team-b", &protected);
        assert_eq!(in_b.len(), 1, "only the any-namespace rule: {in_b:?}");
        let protected_ns = policy_rules(&token, "nautilus", &protected);
        assert_eq!(protected_ns.len(), 1, "only the rule naming it: {protected_ns:?}");
        assert_eq!(protected_ns[0].resources.as_deref(), Some(&["secrets".to_string()][..]));
        let cluster = policy_rules(&token, "", &protected);
        assert_eq!(cluster.len(), 2, "{cluster:?}");
        assert_eq!(cluster[0].resources.as_deref(), Some(&["nodes".to_string()][..]));
        assert_eq!(cluster[1].non_resource_urls.as_deref(), Some(&["/metrics".to_string()][..]));
    }

    #[test]
    fn create_on_a_session_subresource_also_grants_its_websocket_get_and_nothing_more() {
        let token = rules(&["create:pods/exec:team-a", "create:pods:team-a", "get,create:pods/attach:team-a"]);
        let in_a = policy_rules(&token, "team-a", &[]);
        assert_eq!(in_a.len(), 4, "{in_a:?}");
        assert_eq!(in_a[1].verbs, ["get"]);
        assert_eq!(in_a[1].resources.as_deref(), Some(&["pods/exec".to_string()][..]));
        assert_eq!(in_a[2].verbs, ["create"], "creating pods grants no get");
        assert_eq!(in_a[3].verbs, ["get", "create"], "a rule with get needs nothing added");
        assert!(policy_rules(&token, "team-b", &[]).is_empty());
    }

    #[test]
    fn verbs_are_never_wildcards_or_escalations() {
        let all = rbac_verbs(0xFF);
        assert_eq!(all, ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]);
        assert!(!all.iter().any(|v| ["*", "bind", "escalate", "impersonate"].contains(&v.as_str())));
    }
}
