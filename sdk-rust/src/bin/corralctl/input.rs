//! What corralctl reads besides its arguments: a znode's new data (an argument, stdin
//! or a file, byte for byte) and txn files. A read that fails is reported as
//! `cannot read WHAT: ...` (exit 2), never as an output error.

use std::io::{IsTerminal, Read};
use std::path::Path;

use crate::cli::ValueArgs;
use crate::failure::Failure;

/// The data given by `VALUE` / `--file`, or `None` when neither was given.
///
/// The rule (docs/corralctl.md): `VALUE` is taken as text, except `-`, which reads
/// stdin to its end; `--file PATH` reads the file (`-` again for stdin). Stdin is never
/// read unless asked for, so a script without a terminal cannot hang on it.
pub fn value(args: ValueArgs) -> Result<Option<Vec<u8>>, Failure> {
    match (args.value, args.file) {
        (Some(value), _) if value == "-" => stdin().map(Some),
        (Some(value), _) => Ok(Some(value.into_bytes())),
        (None, Some(file)) => read(&file).map(Some),
        (None, None) => Ok(None),
    }
}

/// The bytes of `path`, or of stdin for `-`.
pub fn read(path: &Path) -> Result<Vec<u8>, Failure> {
    if path.as_os_str() == "-" {
        return stdin();
    }
    std::fs::read(path).map_err(Failure::input(path.display().to_string()))
}

/// A password typed on the terminal without echo, after `prompt`. Only when stdin is
/// a terminal: a script (stdin a pipe or /dev/null) gets an error saying to do
/// `instead`, never a prompt that waits for nobody.
pub fn password(prompt: &str, instead: &str) -> Result<String, String> {
    if !std::io::stdin().is_terminal() {
        return Err(format!(
            "stdin is not a terminal to ask for it on; {instead}"
        ));
    }
    let password = rpassword::prompt_password(prompt)
        .map_err(|e| format!("cannot read it from the terminal: {e}"))?;
    if password.is_empty() {
        return Err("the password is empty".into());
    }
    Ok(password)
}

/// A new password for `user`, given (`Some`) or typed twice on the terminal.
pub fn new_password(given: Option<String>, user: &str) -> Result<String, Failure> {
    if let Some(password) = given {
        return Ok(password);
    }
    let failed = |e: String| Failure::Usage(format!("the new password of {user}: {e}"));
    let instead = "pass --new-password";
    let first = password(&format!("New password for {user}: "), instead).map_err(failed)?;
    let again = password(&format!("Repeat the password for {user}: "), instead).map_err(failed)?;
    if first != again {
        return Err(Failure::Usage(
            "the two passwords differ; nothing was changed".into(),
        ));
    }
    Ok(first)
}

/// Everything on stdin.
pub fn stdin() -> Result<Vec<u8>, Failure> {
    let mut data = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut data)
        .map_err(Failure::input("stdin"))?;
    Ok(data)
}
