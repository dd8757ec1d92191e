//! `keyfleet`: the server (`serve`), and the client commands that talk to it.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Inside an instance this executable is `sudo` (keyfleet_server::runtime::sudo).
    let mut argv = std::env::args_os();
    if argv.next().as_deref().map(std::path::Path::new).and_then(std::path::Path::file_name)
        == Some(std::ffi::OsStr::new("sudo"))
    {
        return keyfleet_server::runtime::sudo::client::main(argv.collect());
    }
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keyfleet: {e:#}");
            ExitCode::FAILURE
        }
    }
}
