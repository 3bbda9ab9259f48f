//! The HTTP client: credentials from flags, environment and profile; signing; error mapping;
//! retries of GET requests answered 429.

use crate::GlobalArgs;
use crate::error::{CliError, Result};
use reqwest::Method;
use serde_json::Value;
use std::time::Duration;

/// How requests are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    /// `Authorization: Bearer <access key>_<secret>`.
    Bearer,
    /// Couchbase-style HMAC signature with `Couchbase-Timestamp`.
    Hmac,
    /// HTTP Basic with the access key and secret.
    Basic,
}

impl AuthMode {
    /// Parses the profile spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "bearer" => Some(AuthMode::Bearer),
            "hmac" => Some(AuthMode::Hmac),
            "basic" => Some(AuthMode::Basic),
            _ => None,
        }
    }

    /// The profile spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::Bearer => "bearer",
            AuthMode::Hmac => "hmac",
            AuthMode::Basic => "basic",
        }
    }
}

/// A configured API client.
pub struct Client {
    http: reqwest::Client,
    base: String,
    access_key: String,
    secret: String,
    auth: AuthMode,
    /// Where the URL came from, for errors: "profile `local`", "--url", "DBCLOUD_URL".
    origin: String,
}

/// Most GET retries after a 429.
const MAX_RETRIES: u32 = 3;

impl Client {
    /// Resolves the connection from flags > environment > profile.
    pub fn from_args(g: &GlobalArgs) -> Result<Client> {
        let path = crate::config::config_path();
        let cfg = match &path {
            Ok(p) => crate::config::load(p)?,
            Err(_) => Default::default(),
        };
        let profile = match &g.profile {
            Some(name) => {
                Some(cfg.profiles.get(name).ok_or_else(|| CliError::Usage(format!("no profile named `{name}` (see `dbcloud profile list`)")))?.clone())
            }
            None => cfg
                .default_profile
                .as_ref()
                .and_then(|n| cfg.profiles.get(n))
                .or_else(|| (cfg.profiles.len() == 1).then(|| cfg.profiles.values().next()).flatten())
                .cloned(),
        };
        let profile_name = g.profile.clone().or_else(|| {
            cfg.default_profile
                .clone()
                .filter(|n| cfg.profiles.contains_key(n))
                .or_else(|| (cfg.profiles.len() == 1).then(|| cfg.profiles.keys().next().cloned()).flatten())
        });
        let origin = match (&g.url, &profile_name) {
            (Some(u), _) if std::env::var("DBCLOUD_URL").ok().as_ref() == Some(u) => "DBCLOUD_URL".to_string(),
            (Some(_), _) => "--url".to_string(),
            (None, Some(name)) => format!("profile `{name}`"),
            (None, None) => "no profile".to_string(),
        };
        let url = g.url.clone().or_else(|| profile.as_ref().map(|p| p.url.clone())).filter(|u| !u.is_empty());
        let access_key = g.access_key.clone().or_else(|| profile.as_ref().map(|p| p.access_key.clone())).filter(|u| !u.is_empty());
        let secret = g.secret_value().or_else(|| profile.as_ref().map(|p| p.secret.clone())).filter(|u| !u.is_empty());
        let auth = match g.auth {
            Some(a) => a,
            None => match profile.as_ref().map(|p| p.auth.as_str()) {
                Some(s) => AuthMode::parse(s).ok_or_else(|| CliError::Usage(format!("profile: unknown auth `{s}` (bearer, hmac or basic)")))?,
                None => AuthMode::Bearer,
            },
        };
        let missing =
            |what: &str, flag: &str, env: &str| CliError::Usage(format!("no {what}: give {flag}, set {env}, or add a profile (`dbcloud profile add`)"));
        let url = url.ok_or_else(|| missing("server URL", "--url", "DBCLOUD_URL"))?;
        let access_key = access_key.ok_or_else(|| missing("access key", "--access-key", "DBCLOUD_ACCESS_KEY"))?;
        let secret = secret.ok_or_else(|| missing("secret", "--secret", "DBCLOUD_SECRET"))?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("dbcloud-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| CliError::Network(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client { http, base: url.trim_end_matches('/').to_string(), access_key, secret, auth, origin })
    }

    /// Sends a request; `path` starts with `/` and may carry a query. Returns the JSON body
    /// (`Value::Null` for an empty body).
    pub async fn request(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value> {
        let mut attempt = 0;
        loop {
            let mut rb = self.http.request(method.clone(), format!("{}{}", self.base, path));
            rb = match self.auth {
                AuthMode::Bearer => rb.bearer_auth(dbcloud_core::keys::bearer_token(&self.access_key, &self.secret)),
                AuthMode::Basic => rb.basic_auth(&self.access_key, Some(&self.secret)),
                AuthMode::Hmac => {
                    let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default().to_string();
                    let sig = dbcloud_core::signing::sign(&self.secret, method.as_str(), path, &ts);
                    rb.header("Authorization", format!("Bearer {}:{sig}", self.access_key)).header("Couchbase-Timestamp", ts)
                }
            };
            if let Some(b) = body {
                rb = rb.json(b);
            }
            let resp = rb.send().await.map_err(|e| self.unreachable(&e))?;
            let status = resp.status().as_u16();
            let request_id = resp.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string);
            if status == 429 && method == Method::GET && attempt < MAX_RETRIES {
                let wait = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(1).clamp(1, 60);
                attempt += 1;
                tokio::time::sleep(Duration::from_secs(wait)).await;
                continue;
            }
            let bytes = resp.bytes().await.map_err(|e| CliError::Network(format!("reading the response: {}", root_cause(&e))))?;
            let value: Option<Value> = if bytes.is_empty() { Some(Value::Null) } else { serde_json::from_slice(&bytes).ok() };
            if (200..300).contains(&status) {
                return value.ok_or_else(|| CliError::Network(format!("the server answered {status} with a body that is not JSON")));
            }
            let message = value
                .as_ref()
                .and_then(|v| v.get("message"))
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| format!("the server answered HTTP {status}"));
            return Err(CliError::Api { status, message, request_id });
        }
    }

    /// One line that says which server was tried, from which setting, and what that means.
    fn unreachable(&self, e: &reqwest::Error) -> CliError {
        let cause = root_cause(e);
        let lower = cause.to_ascii_lowercase();
        let meaning = if lower.contains("refused") {
            "no server is running there (connection refused); start one with `dbcloud serve` or choose another profile".to_string()
        } else if e.is_timeout() {
            "no answer in time; is a server running there and reachable?".to_string()
        } else if lower.contains("dns") || lower.contains("resolve") || lower.contains("name or service not known") {
            format!("the host name does not resolve ({cause})")
        } else {
            cause
        };
        CliError::Network(format!("cannot reach {} (from {}): {meaning}", self.base, self.origin))
    }

    /// `GET`.
    pub async fn get(&self, path: &str) -> Result<Value> {
        self.request(Method::GET, path, None).await
    }

    /// `POST` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.request(Method::POST, path, Some(body)).await
    }

    /// `PATCH` with a JSON body.
    pub async fn patch(&self, path: &str, body: &Value) -> Result<Value> {
        self.request(Method::PATCH, path, Some(body)).await
    }

    /// `DELETE`.
    pub async fn delete(&self, path: &str) -> Result<Value> {
        self.request(Method::DELETE, path, None).await
    }

    /// Every item of a paged list, following `next_cursor`. `path` may carry a query.
    pub async fn list_all(&self, path: &str) -> Result<Vec<Value>> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut items = vec![];
        let mut cursor: Option<String> = None;
        loop {
            let url = match &cursor {
                Some(c) => format!("{path}{sep}limit=500&cursor={}", encode(c)),
                None => format!("{path}{sep}limit=500"),
            };
            let page = self.get(&url).await?;
            match page.get("items").and_then(Value::as_array) {
                Some(a) => items.extend(a.iter().cloned()),
                None => {
                    return Err(CliError::Network("the server answered a list without `items`".into()));
                }
            }
            match page.get("next_cursor").and_then(Value::as_str) {
                Some(c) if !c.is_empty() => cursor = Some(c.to_string()),
                _ => return Ok(items),
            }
        }
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s = format!("{s}: {c}");
        cur = c.source();
    }
    s
}

/// Percent-encodes a query value.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Builds `path?k=v&…` from optional parameters.
pub fn with_query(path: &str, params: &[(&str, Option<String>)]) -> String {
    let q: Vec<String> = params.iter().filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", encode(v)))).collect();
    if q.is_empty() { path.to_string() } else { format!("{path}?{}", q.join("&")) }
}
