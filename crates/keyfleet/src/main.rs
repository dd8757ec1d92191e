//! `keyfleet`: the server (`serve`), and the client commands that talk to it.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Inside an instance this executable is `sudo` and `ec2-metadata`, by its name.
    let mut argv = std::env::args_os();
    let name = argv.next();
    match name.as_deref().map(std::path::Path::new).and_then(std::path::Path::file_name).and_then(|n| n.to_str()) {
        Some("sudo") => return keyfleet_server::runtime::sudo::client::main(argv.collect()),
        Some("ec2-metadata") => return keyfleet_server::runtime::ec2_metadata::main(argv.collect()),
        _ => {}
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
