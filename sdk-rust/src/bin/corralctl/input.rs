//! What corralctl reads besides its arguments: a znode's new data (an argument, stdin
//! or a file, byte for byte) and txn files. A read that fails is reported as
//! `cannot read WHAT: ...` (exit 2), never as an output error.

use std::io::Read;
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

/// Everything on stdin.
pub fn stdin() -> Result<Vec<u8>, Failure> {
    let mut data = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut data)
        .map_err(Failure::input("stdin"))?;
    Ok(data)
}
