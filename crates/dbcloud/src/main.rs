#![forbid(unsafe_code)]
//! `dbcloud`: the server (`dbcloud serve`) and its command-line client in one binary.

mod replica;
mod serve;
mod users;

use clap::{CommandFactory, Parser, Subcommand};

/// dbcloud — a self-hostable control plane for databases-as-a-service.
#[derive(Parser)]
#[command(name = "dbcloud", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    global: dbcloud_cli::GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API server.
    ///
    /// Example: dbcloud serve --listen 127.0.0.1:8080 --data-dir ./dbcloud-data
    Serve(Box<serve::ServeArgs>),
    /// Console users: operator commands run on the store itself (no server needed).
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Client commands.
    #[command(flatten)]
    Client(dbcloud_cli::Command),
}

/// mimalloc instead of the system allocator (see `dbcloud_alloc`).
#[global_allocator]
static GLOBAL: dbcloud_alloc::MiMalloc = dbcloud_alloc::MiMalloc;

fn main() -> std::process::ExitCode {
    dbcloud_alloc::tune();
    // Usage errors exit 1, as the README documents (clap's own default is 2, which the CLI
    // uses for API errors); --help and --version exit 0.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return std::process::ExitCode::from(if e.use_stderr() { dbcloud_cli::error::EXIT_USAGE } else { 0 });
        }
    };
    let command = match cli.command {
        Command::Serve(args) => args,
        Command::Users(cmd) => {
            let result =
                tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(anyhow::Error::from).and_then(|rt| rt.block_on(users::run(cmd)));
            return match result {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    std::process::ExitCode::from(1)
                }
            };
        }
        Command::Client(command) => {
            // The client needs no more than one thread.
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: cannot start the runtime: {e}");
                    return std::process::ExitCode::from(1);
                }
            };
            let code = rt.block_on(dbcloud_cli::run(cli.global, command, Cli::command));
            return std::process::ExitCode::from(code);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    let result = rt.block_on(serve::run(*command));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}
