// Walks the seed flows of the dbcloud console in Debian's Chromium and checks what a person
// sees. Run by crates/server/tests/console.rs, which starts the servers and passes:
//   CONSOLE_URL, OWNER_EMAIL, OWNER_PASSWORD, ORG_ID, READER_EMAIL, READER_PASSWORD,
//   SHORT_URL, SHORT_EMAIL, SHORT_PASSWORD (a server whose sessions idle out after 2 s),
//   SCREENSHOTS (a directory), USER_DATA_DIR (a fresh Chromium profile directory).
// Any failed check throws: the process exits 1 with the reason on stderr.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`missing environment variable ${name}`);
  return v;
};
const BASE = env("CONSOLE_URL");
const SHOTS = env("SCREENSHOTS");
fs.mkdirSync(SHOTS, { recursive: true });
const step = (what) => console.log(`step: ${what}`);

const context = await chromium.launchPersistentContext(env("USER_DATA_DIR"), {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
  viewport: { width: 1280, height: 860 },
  acceptDownloads: true,
  permissions: ["clipboard-read", "clipboard-write"],
  timeout: 60_000,
});
context.setDefaultTimeout(15_000);
const errors = [];
const page = context.pages()[0] ?? (await context.newPage());
page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
page.on("pageerror", (e) => errors.push(String(e)));

const shot = async (name, p = page) => p.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
const api = (token, method, url, body) =>
  fetch(BASE + url, { method, headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, body: body && JSON.stringify(body) });
const clipboard = (p = page) => p.evaluate(() => navigator.clipboard.readText());
const text = (p = page) => p.locator("body").innerText();

async function signIn(p, base, email, password) {
  await p.goto(base + "/login");
  await p.getByLabel("E-mail address").fill(email);
  await p.getByLabel("Password").fill(password);
  await p.getByRole("button", { name: "Sign in", exact: true }).click();
  await p.waitForURL((u) => !u.pathname.startsWith("/login"));
}

try {
  // --- Seed 002: sign in (the first owner's one-time password). ---
  step("sign in");
  await page.goto(BASE + "/");
  assert.match(page.url(), /\/login/, "an anonymous visit leads to sign-in");
  await shot("01-sign-in");
  await page.getByLabel("E-mail address").fill(env("OWNER_EMAIL"));
  await page.getByLabel("Password").fill("wrong password, surely");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  assert.match(await text(), /Incorrect e-mail address or password/);
  await signIn(page, BASE, env("OWNER_EMAIL"), env("OWNER_PASSWORD"));
  const cookies = await context.cookies(BASE);
  const session = cookies.find((c) => c.name === "dbcloud_session");
  assert.ok(session && session.httpOnly && session.sameSite === "Strict", `session cookie flags: ${JSON.stringify(session)}`);

  // --- Seed 000: API keys list, Generate Key, secret shown once, Copy, Download, Close, revoke. ---
  step("generate an API key");
  await page.getByRole("link", { name: "API keys", exact: true }).click();
  await page.getByRole("link", { name: "Generate Key", exact: true }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("Key name").fill("ci-key");
  await dialog.getByLabel("organizationMember").check();
  await dialog.getByRole("button", { name: "Submit", exact: true }).click();
  await page.getByText("This is the only time the secret key is shown").waitFor();
  const accessKey = (await page.locator("#access_key").innerText()).trim();
  const secret = (await page.locator("#secret").innerText()).trim();
  const bearer = (await page.locator("#bearer_token").innerText()).trim();
  assert.match(accessKey, /^dbc_[A-Za-z0-9]{22}$/);
  assert.equal(bearer, `${accessKey}_${secret}`);
  assert.equal(new URL(page.url()).pathname, "/api-keys", "a reload of the secret page leads to the list");
  await shot("02-api-key-created");
  await page.getByRole("button", { name: "Copy secret", exact: true }).click();
  await page.getByText("Copied").first().waitFor();
  assert.equal(await clipboard(), secret, "the Copy button copies the secret");
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download", exact: true }).click()]);
  const saved = fs.readFileSync(await download.path(), "utf8");
  assert.ok(saved.includes(secret) && saved.includes(accessKey), "the download holds the keys");
  assert.equal((await api(bearer, "GET", "/v1/projects")).status, 200, "the new key works");
  await page.getByRole("link", { name: "Close", exact: true }).click();
  let body = await text();
  assert.ok(body.includes(accessKey) && body.includes("ci-key"), "the list shows the access key");
  assert.ok(!body.includes(secret), "the list never shows the secret");
  await page.reload();
  assert.ok(!(await page.content()).includes(secret), "the secret is gone after a reload");
  await page.goBack();
  assert.ok(!(await page.content()).includes(secret), "and going back does not bring it back");
  await page.goto(BASE + "/api-keys");
  await shot("03-api-keys");

  step("revoke by typing the key's name");
  await page.getByRole("link", { name: "Revoke ci-key", exact: true }).click();
  const confirm = page.getByRole("dialog").getByRole("button", { name: "Confirm", exact: true });
  assert.ok(await confirm.isDisabled(), "Confirm waits for the name");
  await page.getByLabel("Enter the API key name to confirm").fill("ci-ke");
  assert.ok(await confirm.isDisabled());
  await page.getByLabel("Enter the API key name to confirm").fill("ci-key");
  await confirm.click();
  await page.getByText("The API key was revoked").waitFor();
  assert.equal((await api(bearer, "GET", "/v1/projects")).status, 401, "a revoked key is refused by the API at once");

  // --- Seed 004: service accounts. ---
  step("create a service account, then its first key");
  await page.getByRole("link", { name: "Service accounts", exact: true }).click();
  await page.getByRole("link", { name: "Create Service Account", exact: true }).click();
  await page.getByLabel("Account name").fill("deployer");
  await page.getByLabel("Description").fill("CI deployments");
  for (const p of ["CREATE", "READ"]) await page.getByRole("checkbox", { name: new RegExp(`^${p} —`) }).check();
  await shot("04-create-service-account");
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await page.getByRole("link", { name: "Skip", exact: true }).waitFor();
  await page.getByRole("textbox", { name: "API key name", exact: true }).fill("deploy-key");
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await page.getByText("The secret key will not be available after closing this dialog").waitFor();
  const saToken = (await page.locator("#bearer_token").innerText()).trim();
  await page.getByRole("button", { name: "Copy bearer_token", exact: true }).click();
  await page.getByText("Copied").first().waitFor();
  assert.equal(await clipboard(), saToken, "Copy copies the secret key");
  await shot("05-service-account-key");
  assert.equal((await api(saToken, "GET", "/v1/clusters")).status, 200, "the key works with the account's READ");
  await page.getByRole("link", { name: "Done", exact: true }).click();
  await page.locator("#api-access").getByText("deploy-key").waitFor();

  step("edit a key's name, then delete it by typing the account's name");
  await page.getByLabel(/^Actions for dbc_/).click();
  await page.locator("details.menu[open]").getByRole("link", { name: "Edit", exact: true }).click();
  await page.getByRole("textbox", { name: "API key name", exact: true }).fill("deploy-key-2");
  await page.getByRole("button", { name: "Save changes", exact: true }).click();
  await page.locator("#api-access").getByText("deploy-key-2").waitFor();
  await shot("06-api-access");
  await page.getByLabel(/^Actions for dbc_/).click();
  await page.locator("details.menu[open]").getByRole("link", { name: "Delete", exact: true }).click();
  await page.getByLabel("Enter the name of the service account to confirm").fill("deployer");
  await page.getByRole("dialog").getByRole("button", { name: "Delete", exact: true }).click();
  await page.getByText("No API keys yet.").waitFor();
  assert.equal((await api(saToken, "GET", "/v1/clusters")).status, 401, "the deleted key is refused");

  step("edit the service account with the Action button");
  await page.goto(BASE + "/service-accounts");
  await page.getByLabel("Actions for deployer").click();
  await page.locator("details.menu[open]").getByRole("link", { name: "Edit", exact: true }).click();
  await page.getByLabel("Description").fill("CI deployments (read only)");
  await page.getByRole("checkbox", { name: /^CREATE —/ }).uncheck();
  await page.getByRole("button", { name: "Save changes", exact: true }).click();
  await page.getByText("Changes saved.").waitFor();
  body = await text();
  assert.ok(body.includes("CI deployments (read only)") && !/deployer[^\n]*CREATE/.test(body));
  await shot("07-service-accounts");

  // --- Seed 001: Organization Settings (Organization ID) > API Access > Create API Key. ---
  step("settings: Organization ID, API Access");
  await page.getByRole("link", { name: "Settings", exact: true }).click();
  assert.equal((await page.locator("#organization_id").innerText()).trim(), env("ORG_ID"));
  await page.getByRole("button", { name: "Copy organization_id", exact: true }).click();
  await page.getByText("Copied").first().waitFor();
  assert.equal(await clipboard(), env("ORG_ID"), "Copy copies the Organization ID");
  await shot("08-settings");
  await page.getByRole("link", { name: "Create API Key", exact: true }).click();
  await page.locator("#account").selectOption("new");
  await page.locator("#account_name").fill("crdb-admin");
  await page.getByRole("checkbox", { name: /^CLUSTER_ADMIN —/ }).check();
  await page.getByRole("textbox", { name: "API key name", exact: true }).fill("terraform");
  await page.getByRole("dialog").getByRole("button", { name: "Create API Key", exact: true }).click();
  await page.getByText("The secret key will not be available after closing this dialog").waitFor();
  const crdbToken = (await page.locator("#bearer_token").innerText()).trim();
  const created = await api(crdbToken, "POST", "/v1/clusters", { name: "from-seed-001", provider: "aws", region: "us-east-1", node_count: 1 });
  assert.equal(created.status, 202, "a CLUSTER_ADMIN key creates clusters");

  // --- Clusters: create, live progress, buckets, database users, allow list, delete. ---
  step("create a cluster and watch it come up");
  await page.goto(BASE + "/clusters");
  await page.getByRole("link", { name: "Create cluster", exact: true }).click();
  await page.getByLabel("Cluster name").fill("orders");
  await page.getByLabel("Cloud, or provider and region").selectOption("region:aws/us-east-1");
  await page.getByLabel("Nodes").fill("3");
  await shot("09-create-cluster");
  await page.getByRole("button", { name: "Create cluster", exact: true }).click();
  await page.getByText("CREATING").first().waitFor();
  await page.locator("#cluster-state").getByText("CREATED", { exact: true }).waitFor({ timeout: 60_000 });
  await page.locator("#nodes").getByText("LIVE").first().waitFor();
  assert.equal(await page.locator("#nodes tbody tr").count(), 3);
  assert.match(await text(), /postgresql:\/\//, "a connection string is shown");

  step("buckets, database users, allow list");
  await page.getByLabel("Bucket name").fill("travel-sample");
  await page.getByRole("button", { name: "Add bucket", exact: true }).click();
  await page.locator("#buckets").getByText("travel-sample").waitFor();
  await page.getByLabel("User name").fill("app");
  await page.getByRole("button", { name: "Add user", exact: true }).click();
  await page.getByText("This is the only time its password is shown").waitFor();
  const dbPassword = (await page.locator("#db_password").innerText()).trim();
  assert.ok(dbPassword.length >= 16);
  await page.reload();
  assert.ok(!(await page.content()).includes(dbPassword), "the database password is gone after a reload");
  await page.getByLabel("Network (CIDR)").fill("0.0.0.0/0");
  await page.getByRole("button", { name: "Add", exact: true }).click();
  assert.match(await text(), /lets any address on the internet connect/, "0.0.0.0/0 needs a confirmation");
  await page.getByRole("button", { name: /Add my current address/ }).click();
  await page.locator("#allowlist").getByText("127.0.0.1/32").waitFor();
  await shot("10-cluster-detail");

  step("scale with live progress");
  await page.getByLabel("Scale to").fill("4");
  await page.getByRole("button", { name: "Scale", exact: true }).click();
  await page.locator("#nodes tbody tr").nth(3).waitFor({ timeout: 60_000 });
  await page.locator("#cluster-state").getByText("CREATED", { exact: true }).waitFor({ timeout: 60_000 });

  step("cluster list, then delete after typing the name");
  await page.goto(BASE + "/clusters");
  await page.locator("#clusters").getByText("orders").waitFor();
  await shot("11-clusters");
  await page.setViewportSize({ width: 390, height: 844 });
  await shot("12-clusters-phone");
  await page.setViewportSize({ width: 1280, height: 860 });
  await page.getByRole("link", { name: "orders", exact: true }).click();
  await page.getByRole("link", { name: "Delete cluster", exact: true }).click();
  await page.getByLabel("Enter the cluster name to confirm").fill("orders");
  await page.getByRole("dialog").getByRole("button", { name: "Delete", exact: true }).click();
  await page.getByText("Deletion started.").waitFor();

  step("projects, clouds, users, audit log");
  await page.getByRole("link", { name: "Projects", exact: true }).click();
  await page.getByLabel("Project name").fill("shop");
  await page.getByRole("button", { name: "Create project", exact: true }).click();
  await page.locator("#projects").getByText("shop").waitFor();
  await shot("13-projects");
  await page.getByRole("link", { name: "Clouds", exact: true }).click();
  await page.getByLabel("Cloud name").fill("aws-east");
  await page.getByRole("button", { name: "Create cloud", exact: true }).click();
  await page.locator("#clouds").getByText("aws-east").waitFor();
  await shot("14-clouds");
  await page.getByRole("link", { name: "Users", exact: true }).click();
  await shot("15-users");
  await page.getByRole("link", { name: "Audit log", exact: true }).click();
  await page.getByLabel("Action").fill("apikey.");
  await page.getByRole("button", { name: "Filter", exact: true }).click();
  await page.locator("#audit").getByText("apikey.revoke").first().waitFor();
  assert.match(await page.locator("#audit").innerText(), /user:[0-9a-f-]{36}/, "console actions are audited with the person as actor");
  await shot("16-audit");

  // --- Sign out: the session ends (server-side). ---
  step("sign out");
  const before = (await context.cookies(BASE)).find((c) => c.name === "dbcloud_session").value;
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await page.getByText("You have signed out.").waitFor();
  await context.addCookies([{ name: "dbcloud_session", value: before, url: BASE }]);
  await page.goto(BASE + "/clusters");
  assert.match(page.url(), /\/login/, "the old cookie no longer signs in");

  // --- A read-only person: no create or delete controls; forged posts refused. ---
  step("read-only person");
  await signIn(page, BASE, env("READER_EMAIL"), env("READER_PASSWORD"));
  await page.goto(BASE + "/clusters");
  await page.locator("#clusters").getByText("from-seed-001").waitFor();
  assert.equal(await page.getByRole("link", { name: "Create cluster", exact: true }).count(), 0, "no Create cluster");
  await page.getByRole("link", { name: "from-seed-001", exact: true }).click();
  await page.locator("#cluster-state").waitFor();
  for (const name of ["Delete cluster", "Add bucket", "Add user", "Scale", "Add my current address"]) {
    assert.equal(await page.getByRole("button", { name }).count() + await page.getByRole("link", { name }).count(), 0, `no ${name} control`);
  }
  assert.equal(await page.locator(".icon-button").count(), 0, "no delete icons");
  await shot("17-read-only-cluster");
  await page.goto(BASE + "/projects");
  assert.equal(await page.getByRole("button", { name: "Create project", exact: true }).count(), 0);
  assert.equal(await page.locator("nav.sidebar").getByRole("link", { name: "API keys", exact: true }).count(), 0);
  assert.equal(await page.locator("nav.sidebar").getByRole("link", { name: "Service accounts", exact: true }).count(), 0);
  const csrf = await page.locator("input[name=csrf]").first().inputValue();
  const forged = await page.request.post(BASE + "/projects", { form: { name: "forged" }, maxRedirects: 0 });
  assert.equal(forged.status(), 403, "a form post without its CSRF token is refused");
  const wrong = await page.request.post(BASE + "/projects", { form: { name: "forged", csrf: "x".repeat(32) }, maxRedirects: 0 });
  assert.equal(wrong.status(), 403, "a wrong CSRF token is refused");
  const denied = await page.request.post(BASE + "/projects", { form: { name: "forged", csrf }, maxRedirects: 0 });
  assert.equal(denied.status(), 403, "a read-only person gets the API's 403");
  await page.getByRole("button", { name: "Sign out", exact: true }).click();

  // --- Session expiry (a server whose sessions idle out after 2 s). ---
  step("session expiry");
  const SHORT = env("SHORT_URL");
  await signIn(page, SHORT, env("SHORT_EMAIL"), env("SHORT_PASSWORD"));
  assert.ok(!page.url().includes("/login"));
  await page.waitForTimeout(3500);
  await page.goto(SHORT + "/settings");
  assert.match(page.url(), /\/login\?expired=1/, "an idle session ends");
  await page.getByText("Your session has ended. Sign in again.").waitFor();
  await shot("18-session-expired");

  assert.deepEqual(errors.filter((e) => !/status of 4\d\d/.test(e)), [], "no script errors or CSP violations in the console");
  console.log("console flows: all checks passed");
} catch (e) {
  await shot("failure").catch(() => {});
  console.error(`FAILED at ${page.url()}: ${e.stack || e}`);
  process.exitCode = 1;
} finally {
  await context.close();
}
