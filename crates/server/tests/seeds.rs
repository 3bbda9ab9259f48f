//! Every request example of the five reference documents (`../shared/seeds/`), run as
//! written against a fresh server: the curl commands are the documents' text, with only the
//! host and the ids and keys obtained from the server substituted; seed 000's Python example
//! runs from its fixture (typos fixed, otherwise unchanged); seed 003's request schema is
//! sent with every one of its fields.

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::Duration;

/// Runs a documented shell command after substituting `vars`; returns the HTTP status of
/// the (last) response and its body as JSON (null when empty).
async fn run(command: &str, vars: &[(&str, &str)], env: &[(&str, &str)]) -> (u16, Value) {
    let mut cmd = command.trim().to_string();
    for (k, v) in vars {
        cmd = cmd.replace(k, v);
    }
    assert!(!cmd.contains('{') || cmd.contains("--data") || cmd.contains("-d "), "unsubstituted placeholder in {cmd}");
    // Only output capture is added: the body, then the status on its own line.
    let full = format!("{cmd} -w '\\n%{{http_code}}'");
    let mut p = tokio::process::Command::new("sh");
    p.arg("-c").arg(&full);
    for (k, v) in env {
        p.env(k, v);
    }
    let out = p.output().await.expect("sh and curl run");
    assert!(out.status.success(), "{full}: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, status) = text.trim_end().rsplit_once('\n').unwrap_or(("", text.trim()));
    let body = if body.trim().is_empty() { Value::Null } else { serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_string())) };
    (status.trim().parse().unwrap_or_else(|_| panic!("no status from {full}: {text}")), body)
}

// Seed 001 (CockroachDB Cloud, authentication), verbatim.
const SEED001_GET: &str = r#"curl --request GET \
  --url https://cockroachlabs.cloud/api/v1/clusters \
  --header "Authorization: Bearer {secret_key}""#;
const SEED001_GET_VERSION: &str = r#"curl --request GET \
  --url https://cockroachlabs.cloud/api/v1/clusters \
  --header "Authorization: Bearer {secret_key}" \
  --header "Cc-Version: 2024-09-16""#;
const SEED001_COMPLETE: &str = r#"curl --request GET \
  --url 'https://cockroachlabs.cloud/api/v1/clusters' \
  --header 'Authorization: Bearer CC0eJzA1xwg2p9a5CrDB4kLmNoPQRsT7uvWXYZ...' \
  --header 'Cc-Version: 2024-09-16' \
  --header 'Accept: application/json'"#;
const SEED001_VERBOSE: &str = r#"curl --request GET \
  --url https://cockroachlabs.cloud/api/v1/clusters \
  --header "Authorization: Bearer {secret_key}" \
  --header "Cc-Version: 2024-09-16" \
  --verbose"#;

// Seed 002 (CrateDB Cloud), verbatim.
const SEED002_ME: &str = r#"curl -s -u $YOUR_API_KEY:$YOUR_API_SECRET https://console.cratedb.cloud/api/v2/users/me"#;

// Seed 004 (CockroachDB Cloud, organization-scoped paths), verbatim.
const SEED004_LIST_FIRST: &str = r#"curl --request GET \
  --url 'https://cockroachlabs.cloud/api/v1/orgs/{organizationId}/clusters' \
  --header 'Authorization: Bearer {secret key}'"#;
const SEED004_CREATE: &str = r#"curl --request POST \
  --url https://cockroachlabs.cloud/api/v1/orgs/{organizationId}/clusters \
  --header 'Authorization: Bearer {secret key}' \
  --data '{"name":"{cluster name}","provider":"{cloud provider}","serverless":{"regions":["{region name}"],"spendLimit":{spend limit}}}'"#;
const SEED004_CREATE_MOOSE: &str = r#"curl --request POST \
  --url https://cockroachlabs.cloud/api/v1/orgs/{organizationId}/clusters \
  --header 'Authorization: Bearer {secret key}' \
  --data '{"name":"notorious-moose","serverless":{"regions":["us-central1"],"spendLimit":0}}'"#;
const SEED004_CREATE_MOOSE_RAW: &str = r#"{
  "name": "notorious-moose",
  "serverless": {
    "spendLimit": 0
  }
}"#;
const SEED004_GET: &str = r#"curl --request GET \
  --url https://cockroachlabs.cloud/api/v1/orgs/{organizationId}/clusters/{clusterId} \
  --header 'Authorization: Bearer {secret key}'"#;
const SEED004_SPEND_LIMIT: &str = r#"curl --request PUT \
  --url https://cockroachlabs.cloud/api/v1/orgs/{organizationId}/clusters/{clusterId}/spend-limit \
  --header 'Authorization: Bearer {secret key}' \
  --data '{"spendLimit": {spend limit}}'"#;
const SEED004_DELETE: &str = r#"curl --request DELETE \
  --url https://cockroachlabs.cloud/api/v1/orgs/{organizationId}/clusters/{clusterId} \
  --header 'Authorization: Bearer {secret key}'"#;
const SEED004_LIST: &str = r#"curl --request GET \
  --url 'https://cockroachlabs.cloud/api/v1/orgs/{organizationId}/clusters' \
  --header 'Authorization: Bearer {secret key}'"#;
const SEED004_REGIONS: &str = r#"curl --request GET \
  --url 'https://cockroachlabs.cloud/api/v1/orgs/{organizationId}/clusters/available-regions?provider={cloud provider}' \
  --header 'Authorization: Bearer {secret key}'"#;

#[tokio::test]
async fn every_seed_request_example_succeeds_against_a_fresh_server() {
    let t = TestServer::start().await;
    // Keys as the documents obtain them: a service account with ADMIN and its key (001, 004).
    let (_, sa) = t.post("/v1/service-accounts", json!({"name": "docs", "roles": ["ADMIN"]})).await;
    let (_, key) = t.post("/api/v1/api-keys", json!({"name": "docs-key", "service_account_id": sa["id"]})).await;
    let secret = key["secret"].as_str().expect("secret").to_string();
    let crdb_host = ("https://cockroachlabs.cloud", t.url.as_str());

    // Seed 001.
    let literal = ("CC0eJzA1xwg2p9a5CrDB4kLmNoPQRsT7uvWXYZ...", secret.as_str());
    for cmd in [SEED001_GET, SEED001_GET_VERSION, SEED001_COMPLETE, SEED001_VERBOSE] {
        let (status, body) = run(cmd, &[crdb_host, ("{secret_key}", &secret), literal], &[]).await;
        assert_eq!(status, 200, "{cmd}: {body}");
        assert!(body["clusters"].is_array(), "{body}");
    }

    // Seed 004, in the document's order (the raw create body after the delete frees the name).
    let org = t.org.clone();
    let vars = |cluster: &str| -> Vec<(&'static str, String)> {
        vec![
            ("https://cockroachlabs.cloud", t.url.clone()),
            ("{organizationId}", org.clone()),
            ("{secret key}", secret.clone()),
            ("{cluster name}", "docs-template".into()),
            ("{cloud provider}", "GCP".into()),
            ("{region name}", "us-central1".into()),
            ("{spend limit}", "10".into()),
            ("{clusterId}", cluster.into()),
        ]
    };
    let go = async |cmd: &str, cluster: &str| {
        let owned = vars(cluster);
        let v: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
        run(cmd, &v, &[]).await
    };
    let (status, body) = go(SEED004_LIST_FIRST, "").await;
    assert_eq!((status, body), (200, json!({"clusters": []})));
    let (status, body) = go(SEED004_CREATE, "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["cluster"]["name"].as_str(), body["cluster"]["state"].as_str()), (Some("docs-template"), Some("CREATING")));
    assert_eq!(body["cluster"]["serverless"], json!({"regions": ["us-central1"], "spendLimit": 10}));
    let (status, body) = go(SEED004_CREATE_MOOSE, "").await;
    assert_eq!(status, 200, "{body}");
    let moose = body["cluster"]["id"].as_str().unwrap().to_string();
    assert_eq!((body["cluster"]["plan"].as_str(), body["cluster"]["cloudProvider"].as_str()), (Some("SERVERLESS"), Some("GCP")), "GCP by default");
    assert_eq!(body["cluster"]["creatorId"], key["api_key"]["id"], "the key that created it");
    let (status, body) = go(SEED004_GET, &moose).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["cluster"]["id"], moose.as_str());
    assert_eq!(body["regions"][0]["name"], "us-central1");
    t.wait_state(&moose, "CREATED", Duration::from_secs(20)).await;
    let (status, body) = go(SEED004_SPEND_LIMIT, &moose).await;
    assert_eq!((status, body), (200, json!({})));
    assert_eq!(go(SEED004_GET, &moose).await.1["cluster"]["serverless"]["spendLimit"], 10);
    let (status, body) = go(SEED004_LIST, "").await;
    assert_eq!(status, 200);
    assert_eq!(body["clusters"].as_array().unwrap().len(), 2);
    let (status, body) = go(SEED004_REGIONS, "").await;
    assert_eq!(status, 200);
    assert!(body["regions"].as_array().unwrap().contains(&json!("us-central1")), "{body}");
    let (status, body) = go(SEED004_DELETE, &moose).await;
    assert_eq!((status, body), (200, json!({})));
    // The raw form of the moose example (no regions: the provider's first), once the name is free.
    t.wait_state(&moose, "DELETED", Duration::from_secs(20)).await;
    let raw_cmd =
        format!("curl --request POST --url {}/api/v1/orgs/{org}/clusters --header 'Authorization: Bearer {secret}' --data '{SEED004_CREATE_MOOSE_RAW}'", t.url);
    let (status, body) = run(&raw_cmd, &[], &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["cluster"]["serverless"]["spendLimit"], 0);

    // Seed 002, with the key and secret in the environment as the document has it.
    let (status, me) = run(SEED002_ME, &[("https://console.cratedb.cloud", &t.url)], &[("YOUR_API_KEY", &t.access_key), ("YOUR_API_SECRET", &t.secret)]).await;
    assert_eq!(status, 200, "{me}");
    for field in ["email", "hmac", "is_superuser", "name", "organization_id", "status", "uid", "username"] {
        assert!(me.get(field).is_some(), "{field} missing from {me}");
    }

    // Seed 003: an API key created with every field of ApiKeyCreateRequest (its camelCase
    // names are aliases of the native snake_case ones; the answer is snake_case).
    let body = json!({"name": "seed-003", "description": "every field", "expiry": 30, "organizationRoles": ["organizationMember"],
        "resources": [], "allowedCIDRs": ["127.0.0.1/32"]});
    let cmd = format!("curl -s --request POST --url {}/v1/api-keys --header 'Authorization: Bearer {}' --data '{body}'", t.url, t.token);
    let (status, created) = run(&cmd, &[], &[]).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["organization_roles"], json!(["organizationMember"]));
    assert_eq!(created["allowed_cidrs"], json!(["127.0.0.1/32"]));
    assert!(created.get("allowedCIDRs").is_none(), "{created}");
    assert!(created["expires_at"].is_string(), "{created}");
    assert!(created["secret"].is_string());

    // Seed 000: the Python example, signing with HMAC, against /v2/clouds.
    let (status, body) = seed000(&t, None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"].is_array(), "{body}");
}
