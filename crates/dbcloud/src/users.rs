//! `dbcloud users set-password`: the operator's recovery path for console sign-in. It opens
//! the store directly (no server, no API key needed) and sets the password of the user with
//! an e-mail address; their sessions end. The password is read from the terminal (not
//! echoed) or from standard input — never from a flag, which other users could see.

use anyhow::Context;
use clap::{Args, Subcommand};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

/// Console users (operator commands on the store).
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Set a person's console password directly in the store (recovery).
    ///
    /// Example: dbcloud users set-password --email owner@dbcloud.local --data-dir ./dbcloud-data
    #[command(name = "set-password")]
    SetPassword(SetPassword),
}

/// Arguments of `users set-password`.
#[derive(Debug, Args)]
pub struct SetPassword {
    /// E-mail address of the user.
    #[arg(long)]
    email: String,
    /// Data directory of the SQLite store [default: ./dbcloud-data].
    #[arg(long, env = "DBCLOUD_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// `postgres://…` when the server uses PostgreSQL.
    #[arg(long, env = "DBCLOUD_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

fn set_echo(on: bool) {
    let _ = std::process::Command::new("stty").arg(if on { "echo" } else { "-echo" }).stdin(std::process::Stdio::inherit()).status();
}

fn prompt(label: &str) -> anyhow::Result<String> {
    eprint!("{label}");
    std::io::stderr().flush()?;
    set_echo(false);
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    set_echo(true);
    eprintln!();
    read?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Reads the new password: prompted twice on a terminal, else the first line of stdin.
fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = prompt("New password: ")?;
        let again = prompt("Repeat it: ")?;
        anyhow::ensure!(first == again, "the two passwords differ");
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("reading the password from standard input")?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

/// Runs a `users` command.
pub async fn run(cmd: UsersCommand) -> anyhow::Result<()> {
    match cmd {
        UsersCommand::SetPassword(a) => {
            let url = match a.database_url {
                Some(u) => u,
                None => {
                    let dir = a.data_dir.unwrap_or_else(|| PathBuf::from("dbcloud-data"));
                    let db = dir.join("dbcloud.db");
                    anyhow::ensure!(db.exists(), "no store at {} (give --data-dir or --database-url)", db.display());
                    format!("sqlite://{}", db.display())
                }
            };
            let password = read_password()?;
            let store = dbcloud_store::open(&url).await.map_err(|e| anyhow::anyhow!("opening the store: {e}"))?;
            let user = dbcloud_app::sessions::operator_set_password(store.as_ref(), &a.email, &password).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            eprintln!("dbcloud: password set for {} (user {user}); their console sessions have ended", a.email.trim().to_ascii_lowercase());
            Ok(())
        }
    }
}
