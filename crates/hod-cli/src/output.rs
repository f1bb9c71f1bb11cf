//! Standard output that ends quietly when the reader goes away (`hod info x | head`).

use std::io::Write;

/// Prints one line; exits with success when stdout is a closed pipe.
pub fn line(text: impl std::fmt::Display) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}") {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {e}");
        std::process::exit(1);
    }
}
