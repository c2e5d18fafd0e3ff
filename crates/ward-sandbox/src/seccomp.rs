//! The seccomp filters of rings 1 to 3.
//!
//! Everything not listed is allowed: the filters refuse the syscalls that
//! reach past the process (other processes' memory, mounts, namespaces, the
//! kernel's modules, keys, clock and log) and the ones that could undo the
//! sandbox (raising rlimits, `io_uring`, whose operations seccomp cannot see).
//! A refusal is `EPERM`, never a kill, so that a server which merely probes
//! for a feature keeps running. Ring 3 also refuses `socket(2)` altogether,
//! which is what keeps it off every network, and `socketpair(2)` for any
//! family but `AF_UNIX` (which a runtime needs to talk to its own children).
//!
//! `clone3(2)` passes its flags in memory that a filter cannot read, so it
//! answers `ENOSYS`; the C library then falls back to `clone(2)`, whose
//! namespace flags the filter does see.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use crate::error::SandboxError;
use crate::profile::Ring;

/// Syscalls that every sandboxed ring refuses, whatever their arguments.
const REFUSED: &[i64] = &[
    // Other processes' memory.
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_process_madvise,
    libc::SYS_pidfd_getfd,
    // Mounts, both APIs.
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_fsopen,
    libc::SYS_fsconfig,
    libc::SYS_fsmount,
    libc::SYS_fspick,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
    libc::SYS_mount_setattr,
    // Namespaces.
    libc::SYS_setns,
    libc::SYS_unshare,
    // The kernel itself.
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_reboot,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_userfaultfd,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_acct,
    libc::SYS_quotactl,
    libc::SYS_quotactl_fd,
    libc::SYS_syslog,
    libc::SYS_vhangup,
    libc::SYS_sethostname,
    libc::SYS_setdomainname,
    // Kernel keyrings.
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    // The system clock.
    libc::SYS_settimeofday,
    libc::SYS_clock_settime,
    libc::SYS_clock_adjtime,
    libc::SYS_adjtimex,
    // Opening files by handle sidesteps path-based rules.
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    // io_uring performs opens, connects and socket creation out of seccomp's sight.
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    // The limits are set before exec; nothing after may raise them.
    libc::SYS_setrlimit,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_iopl,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_ioperm,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_uselib,
];

/// The `clone(2)` flags that create namespaces (`CLONE_NEWTIME` is not
/// among them: in `clone(2)` its bit belongs to the exit signal).
const NAMESPACE_FLAGS: &[libc::c_int] = &[
    libc::CLONE_NEWNS,
    libc::CLONE_NEWCGROUP,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
];

/// Terminal ioctls that inject input into, or take over, a terminal:
/// `TIOCSTI` and `TIOCLINUX` (the same numbers on x86_64 and aarch64; libc
/// gives them different types on different C libraries).
const REFUSED_IOCTLS: &[u64] = &[0x5412, 0x541C];

/// Builds the filters for `ring`, to be installed in order.
pub(crate) fn programs(ring: Ring) -> Result<Vec<BpfProgram>, SandboxError> {
    let arch =
        TargetArch::try_from(std::env::consts::ARCH).map_err(|_| SandboxError::Unsupported {
            ring,
            missing: format!(
                "no seccomp filter is built for the `{}` architecture",
                std::env::consts::ARCH
            ),
        })?;
    let compile = |rules: BTreeMap<i64, Vec<SeccompRule>>, errno: i32| {
        let errno = u32::try_from(errno).map_err(|e| SandboxError::apply("seccomp", e))?;
        let filter = SeccompFilter::new(
            rules,
            SeccompAction::Allow,
            SeccompAction::Errno(errno),
            arch,
        )
        .map_err(|e| SandboxError::apply("seccomp", e))?;
        BpfProgram::try_from(filter).map_err(|e| SandboxError::apply("seccomp", e))
    };
    let refused = compile(refused_rules(ring)?, libc::EPERM)?;
    let fallback = compile(
        BTreeMap::from([(libc::SYS_clone3, Vec::new())]),
        libc::ENOSYS,
    )?;
    Ok(vec![refuse_foreign_abi(refused), fallback])
}

/// Installs the filters for `ring` on the calling thread. Needs
/// `no_new_privs` (or `CAP_SYS_ADMIN`).
pub(crate) fn install(ring: Ring) -> Result<(), SandboxError> {
    for program in programs(ring)? {
        seccompiler::apply_filter(&program).map_err(|e| SandboxError::apply("seccomp", e))?;
    }
    Ok(())
}

fn refused_rules(ring: Ring) -> Result<BTreeMap<i64, Vec<SeccompRule>>, SandboxError> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        REFUSED.iter().map(|&nr| (nr, Vec::new())).collect();
    // prlimit64(pid, resource, new_limit, old_limit): reading stays allowed.
    rules.insert(
        libc::SYS_prlimit64,
        vec![rule(2, SeccompCmpArgLen::Qword, SeccompCmpOp::Ne, 0)?],
    );
    let mut clone_rules = Vec::new();
    for &flag in NAMESPACE_FLAGS {
        let bit = u64::from(flag.unsigned_abs());
        clone_rules.push(rule(
            0,
            SeccompCmpArgLen::Qword,
            SeccompCmpOp::MaskedEq(bit),
            bit,
        )?);
    }
    rules.insert(libc::SYS_clone, clone_rules);
    let mut ioctl_rules = Vec::new();
    for &request in REFUSED_IOCTLS {
        ioctl_rules.push(rule(1, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, request)?);
    }
    rules.insert(libc::SYS_ioctl, ioctl_rules);
    if ring == Ring::Three {
        rules.insert(libc::SYS_socket, Vec::new());
        let unix = u64::from(libc::AF_UNIX.unsigned_abs());
        rules.insert(
            libc::SYS_socketpair,
            vec![rule(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Ne, unix)?],
        );
    }
    Ok(rules)
}

fn rule(
    arg: u8,
    len: SeccompCmpArgLen,
    op: SeccompCmpOp,
    value: u64,
) -> Result<SeccompRule, SandboxError> {
    let condition = SeccompCondition::new(arg, len, op, value)
        .map_err(|e| SandboxError::apply("seccomp", e))?;
    SeccompRule::new(vec![condition]).map_err(|e| SandboxError::apply("seccomp", e))
}

/// On x86_64 a process can also enter the kernel through the x32 ABI, with
/// the same architecture tag and syscall numbers offset by `0x4000_0000`,
/// which a list of x86_64 numbers would not match. Kill such calls before
/// the filter proper (seccompiler already kills a foreign architecture tag,
/// which covers the i386 ABI).
#[cfg(target_arch = "x86_64")]
fn refuse_foreign_abi(program: BpfProgram) -> BpfProgram {
    use seccompiler::sock_filter;
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const JGE_K: u16 = 0x35;
    const RET_K: u16 = 0x06;
    const ARCH_OFFSET: u32 = 4;
    const NR_OFFSET: u32 = 0;
    const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
    const X32_SYSCALL_BIT: u32 = 0x4000_0000;
    let op = |code, jt, jf, k| sock_filter { code, jt, jf, k };
    let mut guarded = vec![
        op(LD_W_ABS, 0, 0, ARCH_OFFSET),
        // Not x86_64: leave it to the filter proper, which kills it.
        op(JEQ_K, 0, 3, AUDIT_ARCH_X86_64),
        op(LD_W_ABS, 0, 0, NR_OFFSET),
        op(JGE_K, 0, 1, X32_SYSCALL_BIT),
        op(RET_K, 0, 0, libc::SECCOMP_RET_KILL_PROCESS),
    ];
    guarded.extend(program);
    guarded
}

#[cfg(not(target_arch = "x86_64"))]
fn refuse_foreign_abi(program: BpfProgram) -> BpfProgram {
    program
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_compile_for_every_sandboxed_ring() {
        for ring in [Ring::One, Ring::Two, Ring::Three] {
            let programs = programs(ring).unwrap();
            assert_eq!(programs.len(), 2);
            for program in &programs {
                assert!(!program.is_empty() && program.len() < 4096);
            }
        }
    }

    #[test]
    fn only_ring_three_refuses_sockets() {
        let three = refused_rules(Ring::Three).unwrap();
        let two = refused_rules(Ring::Two).unwrap();
        let socket = libc::SYS_socket;
        assert!(three.get(&socket).is_some_and(Vec::is_empty));
        assert!(!two.contains_key(&socket));
        assert_eq!(three.len(), two.len() + 2);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn x32_calls_are_killed_before_the_filter() {
        let programs = programs(Ring::Two).unwrap();
        let first = &programs[0];
        assert_eq!(first[3].k, 0x4000_0000);
        assert_eq!(first[4].k, libc::SECCOMP_RET_KILL_PROCESS);
        // The jumps over the guard land on seccompiler's own arch check.
        assert_eq!(first[5].k, 4);
    }
}
