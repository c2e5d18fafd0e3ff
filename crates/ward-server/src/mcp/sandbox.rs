//! The one place a stdio upstream's command line is built: ring 0 runs the
//! server as it is; rings 1 to 3 run it through `ward sandbox-exec`, which
//! confines itself (landlock, seccomp, namespaces, limits) and then
//! executes the server. A ring that cannot be had is refused, never
//! quietly run unconfined.

use std::ffi::OsString;
use std::path::Path;

/// The command for `program args` in `ring`. `ring_dir` is the one
/// directory the ring lets the server write (its own directory in ring 1,
/// its scratch directory in ring 3).
pub(crate) fn command(
    ward_exe: Option<&Path>,
    ring: u8,
    ring_dir: Option<&Path>,
    program: &str,
    args: &[String],
) -> Result<tokio::process::Command, String> {
    if ring == 0 {
        if ring_dir.is_some() {
            return Err("`ring_dir` is for rings 1 and 3".into());
        }
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args);
        return Ok(cmd);
    }
    let args: Vec<OsString> = args.iter().map(OsString::from).collect();
    confined(ward_exe, ring, ring_dir, program, &args)
}

/// Rings 1 to 3: the server is started as `ward sandbox-exec --ring N ...
/// -- PROGRAM ARGS` (crate `ward-sandbox`), which applies the ring to
/// itself and then executes the server, or exits without running it.
fn confined(
    ward_exe: Option<&Path>,
    ring: u8,
    ring_dir: Option<&Path>,
    program: &str,
    args: &[OsString],
) -> Result<tokio::process::Command, String> {
    let ring = ward_sandbox::Ring::try_from(ring).map_err(|e| e.to_string())?;
    let mut profile = ward_sandbox::Profile::new(ring);
    match ring {
        ward_sandbox::Ring::One => profile.own_dir = ring_dir.map(Path::to_path_buf),
        ward_sandbox::Ring::Three => profile.scratch = ring_dir.map(Path::to_path_buf),
        _ if ring_dir.is_some() => return Err("`ring_dir` is for rings 1 and 3".into()),
        _ => {}
    }
    profile.validate().map_err(|e| e.to_string())?;
    let exe = ward_exe.ok_or_else(|| {
        format!(
            "ring {} needs the `ward` binary to confine the server",
            ring.number()
        )
    })?;
    let std = ward_sandbox::command(exe, &profile, program.as_ref(), args);
    Ok(tokio::process::Command::from(std))
}
