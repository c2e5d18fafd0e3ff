//! Privilege rings on the real kernel: `ward sandbox-exec`, invoked the way
//! the MCP gateway invokes it (`ward_sandbox::command`), runs a small Python
//! probe that tries things and prints what happened to each, by errno name.
//!
//! Every assertion is about behaviour (an errno, an exit status, a file that
//! does or does not exist), never about time. The tests pass as root, which
//! bypasses file modes: what they observe is landlock and seccomp.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure is the point"
)]

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use ward_sandbox::{Limits, Profile, Ring};

/// What the probe can be asked to do, one `OP ARG` pair after another.
const PROBE: &str = r#"
import ctypes, errno, os, socket, sys

libc = ctypes.CDLL(None, use_errno=True)

def syscall(call):
    if call() == -1:
        raise OSError(ctypes.get_errno(), "refused")

# The syscall numbers that differ between the two architectures ward builds for.
NR = {
    "x86_64": {"clone": 56, "setrlimit": 160, "prlimit64": 302},
    "aarch64": {"clone": 220, "setrlimit": 164, "prlimit64": 261},
}[os.uname().machine]

def raw_clone_newuser():
    pid = libc.syscall(NR["clone"], 0x10000000 | 17, 0, 0, 0, 0)
    if pid == 0:
        os._exit(0)
    if pid > 0:
        os.waitpid(pid, 0)
        return 0
    return -1

NOFILE = (ctypes.c_uint64 * 2)()

def fork_many(count):
    r, w = os.pipe()
    kids = []
    try:
        for _ in range(count):
            pid = os.fork()
            if pid == 0:
                os.close(w)
                os.read(r, 1)
                os._exit(0)
            kids.append(pid)
    finally:
        os.close(w)
        for kid in kids:
            os.waitpid(kid, 0)

SYSCALLS = {
    "unshare": lambda: libc.unshare(0x10000000),
    "mount": lambda: libc.mount(b"none", b"/mnt", b"tmpfs", 0, None),
    "ptrace": lambda: libc.ptrace(0, 0, None, None),
    "io_uring_setup": lambda: libc.syscall(425, 1, ctypes.create_string_buffer(120)),
    "clone3": lambda: libc.syscall(435, None, 0),
    "clone_newuser": raw_clone_newuser,
    # Reading a limit stays allowed; setting one, even to its current value, does not.
    "getrlimit": lambda: libc.syscall(NR["prlimit64"], 0, 7, None, NOFILE),
    "setrlimit": lambda: libc.syscall(NR["setrlimit"], 7, NOFILE),
    "prlimit64": lambda: libc.syscall(NR["prlimit64"], 0, 7, NOFILE, None),
}

def attempt(label, action):
    try:
        action()
        print(label, "ok")
    except OSError as e:
        print(label, errno.errorcode.get(e.errno, e.errno))
    except MemoryError:
        print(label, "MemoryError")
    sys.stdout.flush()

args = sys.argv[1:]
while args:
    op, arg, args = args[0], args[1], args[2:]
    label = op + " " + arg
    if op == "write":
        attempt(label, lambda: open(arg, "w").write("x"))
    elif op == "read":
        attempt(label, lambda: open(arg).read())
    elif op == "truncate":
        attempt(label, lambda: os.truncate(arg, 0))
    elif op == "unlink":
        attempt(label, lambda: os.unlink(arg))
    elif op == "mkdir":
        attempt(label, lambda: os.mkdir(arg))
    elif op == "connect":
        attempt(label, lambda: socket.create_connection(("127.0.0.1", int(arg))).close())
    elif op == "socket":
        family, kind = arg.split(":")
        attempt(label, lambda: socket.socket(getattr(socket, family), getattr(socket, kind)).close())
    elif op == "syscall":
        attempt(label, lambda: syscall(SYSCALLS[arg]))
    elif op == "kill":
        attempt(label, lambda: os.kill(int(arg), 0))
    elif op == "alloc":
        attempt(label, lambda: bytearray(int(arg) << 20))
    elif op == "fork":
        attempt(label, lambda: fork_many(int(arg)))
    elif op == "spin":
        while True:
            pass
"#;

fn ward_exe() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_ward"))
}

/// The system Python, so that the probe does not go through a version
/// manager's shims (which may want to write), nor live under a home
/// directory another user cannot enter.
fn python() -> &'static OsStr {
    if Path::new("/usr/bin/python3").exists() {
        OsStr::new("/usr/bin/python3")
    } else {
        OsStr::new("python3")
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

/// A temporary tree: `scratch/` and `own/` for the rings that write,
/// `outside/` with a readable file, `outside/victim` to damage.
struct Tree {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Tree {
    fn new() -> Tree {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        for sub in ["scratch", "own", "outside"] {
            std::fs::create_dir(root.join(sub)).unwrap();
        }
        std::fs::write(root.join("outside/readable"), "readable").unwrap();
        std::fs::write(root.join("outside/victim"), "intact").unwrap();
        Tree { _dir: dir, root }
    }

    fn path(&self, rel: &str) -> String {
        self.root.join(rel).to_str().unwrap().to_owned()
    }

    fn profile(&self, ring: Ring) -> Profile {
        let mut profile = Profile::new(ring);
        match ring {
            Ring::Three => profile.scratch = Some(self.root.join("scratch")),
            Ring::One => profile.own_dir = Some(self.root.join("own")),
            Ring::Two | Ring::Zero => {}
        }
        if ring == Ring::Three && is_root() {
            // Linux never applies RLIMIT_NPROC to root, so ring 3 refuses to
            // run as root unless the operator lifts that one limit;
            // `ring_three_process_limit_*` covers both sides of that.
            profile.limits.processes = None;
        }
        profile
    }
}

/// A path under `/tmp` that no test creates on purpose.
fn tmp_path(label: &str) -> String {
    format!("/tmp/ward-sandbox-test-{}-{label}", std::process::id())
}

fn sandboxed(profile: &Profile, program: &OsStr, args: &[OsString]) -> Command {
    ward_sandbox::command(ward_exe(), profile, program, args)
}

fn probe_command(profile: &Profile, ops: &[&str]) -> Command {
    let mut args: Vec<OsString> = vec!["-c".into(), PROBE.into()];
    args.extend(ops.iter().map(OsString::from));
    let mut command = sandboxed(profile, python(), &args);
    command.stdin(Stdio::null());
    command
}

/// Runs the probe on `(operation, argument, expected result)` triples and
/// checks that each operation had its expected result.
fn expect(profile: &Profile, cases: &[(&str, &str, &str)]) {
    let ops: Vec<&str> = cases.iter().flat_map(|(op, arg, _)| [*op, *arg]).collect();
    let output = probe_command(profile, &ops).output().unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let report: Vec<&str> = std::str::from_utf8(&output.stdout)
        .unwrap()
        .lines()
        .collect();
    let expected: Vec<String> = cases
        .iter()
        .map(|(op, arg, result)| format!("{op} {arg} {result}"))
        .collect();
    assert_eq!(report, expected, "ring {}", profile.ring);
}

fn describe(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A loopback listener that tells whether anyone connected.
struct Listener(TcpListener);

impl Listener {
    fn new() -> Listener {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Listener(listener)
    }

    fn port(&self) -> String {
        self.0.local_addr().unwrap().port().to_string()
    }

    /// Whether a connection is waiting. The client has already exited, so a
    /// connection it made is in the backlog by now.
    fn was_reached(&self) -> bool {
        match self.0.accept() {
            Ok(_) => true,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
            Err(e) => panic!("accept: {e}"),
        }
    }
}

#[test]
fn ring_three_cannot_open_a_socket_of_any_family() {
    let tree = Tree::new();
    let listener = Listener::new();
    let port = listener.port();
    expect(
        &tree.profile(Ring::Three),
        &[
            ("socket", "AF_INET:SOCK_STREAM", "EPERM"),
            ("socket", "AF_INET:SOCK_DGRAM", "EPERM"),
            ("socket", "AF_INET6:SOCK_STREAM", "EPERM"),
            ("socket", "AF_UNIX:SOCK_STREAM", "EPERM"),
            ("socket", "AF_NETLINK:SOCK_RAW", "EPERM"),
            ("socket", "AF_PACKET:SOCK_RAW", "EPERM"),
            ("connect", &port, "EPERM"),
        ],
    );
    assert!(!listener.was_reached());
}

#[test]
fn ring_three_writes_only_inside_its_scratch_and_reads_everywhere() {
    let tree = Tree::new();
    let tmp = tmp_path("ring3");
    let victim = tree.path("outside/victim");
    expect(
        &tree.profile(Ring::Three),
        &[
            ("write", &tree.path("outside/new"), "EACCES"),
            ("write", &victim, "EACCES"),
            ("truncate", &victim, "EACCES"),
            ("unlink", &victim, "EACCES"),
            ("mkdir", &tree.path("outside/dir"), "EACCES"),
            ("write", &tmp, "EACCES"),
            ("read", &tree.path("outside/readable"), "ok"),
            ("write", &tree.path("scratch/file"), "ok"),
            ("mkdir", &tree.path("scratch/dir"), "ok"),
            ("read", &tree.path("scratch/file"), "ok"),
        ],
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "intact");
    assert!(!Path::new(&tree.path("outside/new")).exists());
    assert!(!Path::new(&tmp).exists());
    assert_eq!(
        std::fs::read_to_string(tree.path("scratch/file")).unwrap(),
        "x"
    );
}

#[test]
fn ring_three_allocations_past_the_memory_limit_fail() {
    let tree = Tree::new();
    let mut profile = tree.profile(Ring::Three);
    profile.limits.memory_mb = Some(64);
    expect(
        &profile,
        &[("alloc", "16", "ok"), ("alloc", "256", "MemoryError")],
    );
    profile.limits.memory_mb = Some(1024);
    expect(&profile, &[("alloc", "256", "ok")]);
}

#[test]
fn ring_three_is_killed_past_its_cpu_limit() {
    let tree = Tree::new();
    let mut profile = tree.profile(Ring::Three);
    profile.limits.cpu_secs = Some(1);
    let output = probe_command(&profile, &["spin", "-"]).output().unwrap();
    assert_eq!(output.status.signal(), Some(9), "{}", describe(&output));
}

#[test]
fn ring_three_process_limit_is_refused_for_root_unless_lifted() {
    if !is_root() {
        return;
    }
    let tree = Tree::new();
    let mut profile = tree.profile(Ring::Three);
    profile.limits.processes = Limits::RING_THREE.processes;
    let output = probe_command(&profile, &["read", "/etc/hostname"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("ring `3` cannot be enforced here"),
        "{stderr}"
    );
    assert!(stderr.contains("`--processes unlimited`"), "{stderr}");
    assert!(output.stdout.is_empty(), "the program must not have run");
}

#[test]
fn ring_three_forks_past_the_process_limit_fail() {
    let tree = Tree::new();
    let mut ward = ward_exe().to_path_buf();
    let mut run_as_nobody = None;
    if is_root() {
        // Root is exempt from RLIMIT_NPROC, so run as `nobody`, which needs
        // a ward it can reach and a scratch it owns.
        const NOBODY: u32 = 65534;
        std::fs::set_permissions(&tree.root, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::chown(tree.root.join("scratch"), Some(NOBODY), Some(NOBODY)).unwrap();
        let copy = tree.root.join("ward");
        std::fs::hard_link(&ward, &copy)
            .or_else(|_| std::fs::copy(&ward, &copy).map(drop))
            .unwrap();
        ward = copy;
        run_as_nobody = Some(NOBODY);
    }
    let forks = |processes: u64, count: &str| {
        let mut profile = tree.profile(Ring::Three);
        profile.limits.processes = Some(processes);
        let args: Vec<OsString> = vec!["-c".into(), PROBE.into(), "fork".into(), count.into()];
        let mut command = ward_sandbox::command(&ward, &profile, python(), &args);
        if let Some(uid) = run_as_nobody {
            command.uid(uid).gid(uid);
        }
        let output = command.stdin(Stdio::null()).output().unwrap();
        assert!(output.status.success(), "{}", describe(&output));
        String::from_utf8(output.stdout).unwrap()
    };
    assert_eq!(forks(8, "32"), "fork 32 EAGAIN\n");
    if run_as_nobody.is_some() {
        // The control: with room to spare the same user forks freely. (Only
        // for `nobody`, whose other processes are known to be none.)
        assert_eq!(forks(64, "16"), "fork 16 ok\n");
    }
}

#[test]
fn ring_three_cannot_signal_processes_outside_its_sandbox() {
    if ward_sandbox::probe().landlock_abi < 6 {
        eprintln!("skipped: landlock scopes need abi 6");
        return;
    }
    let tree = Tree::new();
    let mut outsider = Command::new("sleep").arg("1000").spawn().unwrap();
    let pid = outsider.id().to_string();
    let output = probe_command(&tree.profile(Ring::Three), &["kill", &pid])
        .output()
        .unwrap();
    outsider.kill().unwrap();
    outsider.wait().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("kill {pid} EPERM\n"),
        "{}",
        describe(&output)
    );
}

#[test]
fn ring_two_reaches_the_network_but_writes_nowhere() {
    let tree = Tree::new();
    let listener = Listener::new();
    expect(
        &tree.profile(Ring::Two),
        &[
            ("connect", &listener.port(), "ok"),
            ("write", &tree.path("outside/new"), "EACCES"),
            ("write", &tree.path("own/new"), "EACCES"),
            ("write", &tree.path("scratch/new"), "EACCES"),
            ("write", &tmp_path("ring2"), "EACCES"),
            ("write", "/dev/null", "ok"),
        ],
    );
    assert!(listener.was_reached());
}

#[test]
fn ring_one_writes_its_own_directory_only() {
    let tree = Tree::new();
    let listener = Listener::new();
    expect(
        &tree.profile(Ring::One),
        &[
            ("write", &tree.path("own/new"), "ok"),
            ("mkdir", &tree.path("own/dir"), "ok"),
            ("write", &tree.path("outside/new"), "EACCES"),
            ("write", &tree.path("scratch/new"), "EACCES"),
            ("write", &tmp_path("ring1"), "EACCES"),
            ("connect", &listener.port(), "ok"),
        ],
    );
    assert_eq!(std::fs::read_to_string(tree.path("own/new")).unwrap(), "x");
    assert!(listener.was_reached());
}

#[test]
fn ring_zero_is_unrestricted() {
    let tree = Tree::new();
    let listener = Listener::new();
    let tmp = tmp_path("ring0");
    expect(
        &tree.profile(Ring::Zero),
        &[
            ("write", &tree.path("outside/new"), "ok"),
            ("write", &tmp, "ok"),
            ("connect", &listener.port(), "ok"),
        ],
    );
    std::fs::remove_file(&tmp).unwrap();
    assert!(listener.was_reached());
}

#[test]
fn dangerous_syscalls_are_refused_in_every_sandboxed_ring() {
    let tree = Tree::new();
    for ring in [Ring::Three, Ring::Two, Ring::One] {
        expect(
            &tree.profile(ring),
            &[
                ("syscall", "unshare", "EPERM"),
                ("syscall", "mount", "EPERM"),
                ("syscall", "ptrace", "EPERM"),
                ("syscall", "io_uring_setup", "EPERM"),
                ("syscall", "clone_newuser", "EPERM"),
                ("syscall", "getrlimit", "ok"),
                ("syscall", "setrlimit", "EPERM"),
                ("syscall", "prlimit64", "EPERM"),
                // ENOSYS, so that the C library falls back to clone(2),
                // whose namespace flags the filter sees.
                ("syscall", "clone3", "ENOSYS"),
            ],
        );
    }
}

fn sandbox_exec(args: &[&str]) -> Output {
    Command::new(ward_exe())
        .arg("sandbox-exec")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn bad_input_is_a_usage_or_input_error_and_runs_nothing() {
    let tree = Tree::new();
    let scratch = tree.path("scratch");
    let missing = tree.path("missing");
    let file = tree.path("outside/readable");
    let marker = tree.path("scratch/ran");
    let touch = ["--", "/bin/sh", "-c", "echo > \"$0\"", &marker];
    let with = |flags: &[&str]| -> Vec<String> {
        flags
            .iter()
            .chain(touch.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let cases: Vec<(Vec<String>, i32, String)> = vec![
        (with(&["--ring", "4"]), 2, "unknown ring `4`".into()),
        (
            vec![
                "--ring".into(),
                "3".into(),
                "--scratch".into(),
                scratch.clone(),
            ],
            2,
            "PROGRAM".into(),
        ),
        (
            with(&["--ring", "3"]),
            2,
            "ring `3` needs a scratch directory".into(),
        ),
        (
            with(&["--ring", "1"]),
            2,
            "ring `1` needs its own directory".into(),
        ),
        (
            with(&["--ring", "3", "--scratch", &scratch, "--dir", &scratch]),
            2,
            "only ring 1 takes `--dir`".into(),
        ),
        (
            with(&["--ring", "2", "--scratch", &scratch]),
            2,
            "only ring 3 takes `--scratch`".into(),
        ),
        (
            with(&["--ring", "3", "--scratch", "relative/dir"]),
            2,
            "`relative/dir` must be an absolute path".into(),
        ),
        (
            with(&["--ring", "3", "--scratch", "/"]),
            2,
            "a writable root is not a sandbox".into(),
        ),
        (
            with(&["--ring", "0", "--memory-mb", "10"]),
            2,
            "ring `0` is unsandboxed and takes no limits".into(),
        ),
        (
            with(&["--ring", "3", "--scratch", &scratch, "--cpu-secs", "0"]),
            2,
            "invalid limit `0`".into(),
        ),
        (
            with(&[
                "--ring",
                "3",
                "--scratch",
                &missing,
                "--processes",
                "unlimited",
            ]),
            3,
            format!("cannot open directory `{missing}`"),
        ),
        (
            with(&["--ring", "1", "--dir", &file]),
            3,
            format!("`{file}` is not a directory"),
        ),
    ];
    for (args, code, message) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = sandbox_exec(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(&message), "{args:?}: {stderr}");
        assert!(!Path::new(&marker).exists(), "{args:?} ran the program");
    }
    // A program that cannot be executed is an input error, after confinement.
    let output = sandbox_exec(&["--ring", "2", "--", "/nonexistent/server"]);
    assert_eq!(output.status.code(), Some(3), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("cannot execute `/nonexistent/server`")
    );
}

#[test]
fn probe_reports_what_the_kernel_supports() {
    let output = sandbox_exec(&["--probe"]);
    assert!(output.status.success(), "{}", describe(&output));
    let report = String::from_utf8(output.stdout).unwrap();
    let support = ward_sandbox::probe();
    assert!(report.starts_with(&format!("landlock abi: {}\n", support.landlock_abi)));
    assert!(report.contains("seccomp filters: "), "{report}");
    assert!(report.contains("ring 2: "), "{report}");
}

/// `@modelcontextprotocol/server-filesystem`, installed from npm's local
/// cache only (`--offline`), so that the test never needs the network; on a
/// machine whose cache lacks it, the test says so and checks nothing.
fn filesystem_server(into: &Path) -> Option<PathBuf> {
    let installed = Command::new("npm")
        .args([
            "install",
            "--offline",
            "--no-audit",
            "--no-fund",
            "--prefix",
        ])
        .arg(into)
        .arg("@modelcontextprotocol/server-filesystem")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let entry = into.join("node_modules/@modelcontextprotocol/server-filesystem/dist/index.js");
    match installed {
        Ok(status) if status.success() && entry.exists() => Some(entry),
        _ => {
            eprintln!(
                "skipped: npm or a cached @modelcontextprotocol/server-filesystem is missing"
            );
            None
        }
    }
}

#[test]
fn a_real_mcp_filesystem_server_runs_under_ring_three() {
    let tree = Tree::new();
    let install = tempfile::tempdir().unwrap();
    let Some(server) = filesystem_server(install.path()) else {
        return;
    };
    // The server is allowed both directories; the sandbox only the scratch.
    let (scratch, outside) = (tree.path("scratch"), tree.path("outside"));
    let args: Vec<OsString> = vec![
        server.into(),
        scratch.clone().into(),
        outside.clone().into(),
    ];
    let mut child = sandboxed(&tree.profile(Ring::Three), OsStr::new("node"), &args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut send = |message: serde_json::Value| writeln!(stdin, "{message}").unwrap();
    let call = |id: u64, name: &str, arguments: serde_json::Value| {
        serde_json::json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": name, "arguments": arguments}})
    };
    send(
        serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "ward-sandbox-test", "version": "1"}}}),
    );
    send(serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    let inside_file = format!("{scratch}/from-mcp.txt");
    let outside_file = format!("{outside}/from-mcp.txt");
    send(call(
        2,
        "write_file",
        serde_json::json!({"path": inside_file, "content": "inside"}),
    ));
    send(call(
        3,
        "write_file",
        serde_json::json!({"path": outside_file, "content": "outside"}),
    ));
    send(call(
        4,
        "read_text_file",
        serde_json::json!({"path": format!("{outside}/readable")}),
    ));
    let mut answers = std::collections::BTreeMap::new();
    while answers.len() < 4 {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the server exited early"
        );
        let message: serde_json::Value = serde_json::from_str(&line).unwrap();
        if let Some(id) = message["id"].as_u64() {
            answers.insert(id, message);
        }
    }
    drop(stdin);
    child.kill().unwrap();
    child.wait().unwrap();

    assert!(
        answers[&1]["result"]["serverInfo"].is_object(),
        "{}",
        answers[&1]
    );
    assert_eq!(
        answers[&2]["result"]["isError"],
        serde_json::Value::Null,
        "{}",
        answers[&2]
    );
    assert_eq!(answers[&3]["result"]["isError"], true, "{}", answers[&3]);
    assert!(
        answers[&3].to_string().contains("EACCES"),
        "{}",
        answers[&3]
    );
    assert!(
        answers[&4].to_string().contains("readable"),
        "{}",
        answers[&4]
    );
    assert_eq!(std::fs::read_to_string(&inside_file).unwrap(), "inside");
    assert!(!Path::new(&outside_file).exists());
}
