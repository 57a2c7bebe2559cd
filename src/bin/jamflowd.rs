//! `jamflowd`: the live daemon (mic -> talking portrait -> GStreamer). Not built yet: this stub says so.

fn main() {
    eprintln!(
        "jamflowd {}: the live daemon is not implemented yet (tracked by the daemon issue); \
         use `jamflow` for packages, graphs and sampling",
        env!("CARGO_PKG_VERSION")
    );
    std::process::exit(2);
}
