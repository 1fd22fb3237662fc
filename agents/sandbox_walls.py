"""The kernel's walls around the REPL child: namespaces, a private root, credentials, seccomp.

Runs inside the child (stdlib only: ctypes over libc) before any model-written code, so that what
Python-level checks miss, the kernel still refuses. Why each piece:
- user/mount/PID/network/IPC namespaces: the vault, `$HOME`, other processes (the kb parent
  included) and the network are not hidden from the child, they are absent from its world;
- a root that is an empty read-only tmpfs holding the standard library (bound read-only) and a
  size-capped tmpfs at /scratch: every mount is `noexec`, so no file can be mapped executable;
- credentials: root drops to `nobody`, anyone else keeps no capabilities in its namespace;
- a seccomp filter (a BPF program built here; no libseccomp needed) refusing process creation,
  exec, ptrace, signals to others, new executable memory, namespace and mount calls and the
  kernel interfaces a REPL has no use for. x86_64 only: on other architectures `kernel_walls`
  reports seccomp as missing.
"""

import ctypes
import os
import platform
import resource
import struct

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID = 0x00020000, 0x10000000, 0x20000000
CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS = 0x40000000, 0x08000000, 0x04000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC, MS_PRIVATE, MS_RELATIME = 1024, 2048, 4096, 16384, 1 << 18, 1 << 21
LOCKED = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY
PR_SET_PDEATHSIG, PR_SET_SECCOMP, PR_SET_NO_NEW_PRIVS, SECCOMP_MODE_FILTER = 1, 22, 38, 2
NOBODY, SANDBOX_ID = 65534, 1000
SCRATCH = "/scratch"
REAL_ROOT = True  # uid 0 of the first user namespace (not a rootless container's root)

# x86_64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl)
AUDIT_ARCH_X86_64 = 0xC000003E
DENY = {  # refused with EPERM
    "clone": 56, "fork": 57, "vfork": 58, "execve": 59, "ptrace": 101, "syslog": 103,
    "setpgid": 109, "setsid": 112, "personality": 135, "pivot_root": 155, "chroot": 161,
    "acct": 163, "mount": 165, "umount2": 166, "swapon": 167, "swapoff": 168, "reboot": 169,
    "iopl": 172, "ioperm": 173, "init_module": 175, "delete_module": 176, "quotactl": 179,
    "tkill": 200, "kexec_load": 246, "add_key": 248, "request_key": 249, "keyctl": 250,
    "unshare": 272, "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297, "perf_event_open": 298,
    "name_to_handle_at": 303, "open_by_handle_at": 304, "setns": 308, "process_vm_readv": 310,
    "process_vm_writev": 311, "finit_module": 313, "memfd_create": 319, "kexec_file_load": 320,
    "bpf": 321, "execveat": 322, "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426,
    "io_uring_register": 427, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
    "fsmount": 432, "fspick": 433, "pidfd_send_signal": 424, "pidfd_open": 434, "pidfd_getfd": 438,
    "mount_setattr": 442, "process_madvise": 440, "memfd_secret": 447, "sethostname": 170,
    "setdomainname": 171,
}
NOSYS = {"clone3": 435}  # ENOSYS, as for a kernel that lacks it
SELF_ONLY = {"kill": 62, "tgkill": 234}  # first argument must be the child's own pid
UNIX_ONLY = {"socket": 41, "socketpair": 53}  # AF_UNIX only (the network namespace is empty anyway)
NO_EXEC_PROT = {"mmap": 9, "mprotect": 10, "pkey_mprotect": 329}  # PROT_EXEC in the third argument
PRCTL = 157  # PR_SET_PDEATHSIG may not be cleared


class WallError(Exception):
    """A wall the kernel would not build; the message says which and why."""


_libc = None


def libc():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                                ctypes.c_char_p]
        _libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
        _libc.syscall.restype = ctypes.c_long
    return _libc


def _ok(ret: int, what: str) -> None:
    if ret != 0:
        raise WallError(f"{what}: {os.strerror(ctypes.get_errno())}")


def _mount(src, target, fstype, flags, data=None) -> None:
    enc = lambda s: s.encode() if isinstance(s, str) else s  # noqa: E731
    _ok(libc().mount(enc(src), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def enter_namespaces() -> None:
    """New mount, PID, network and IPC namespaces; a user namespace too unless we are root (root
    needs none, and drops to nobody later). PID applies to children: the caller forks next."""
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    global REAL_ROOT
    REAL_ROOT = _real_root()  # read now: /proc is not in the world built next
    if os.geteuid() == 0:
        _ok(libc().unshare(flags), "unshare (namespaces)")
        _ok(libc().sethostname(b"sandbox", 7), "sethostname")
        return
    uid, gid = os.geteuid(), os.getegid()
    _ok(libc().unshare(flags | CLONE_NEWUSER), "unshare (unprivileged user namespaces)")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{SANDBOX_ID} {uid} 1"),
                       ("gid_map", f"{SANDBOX_ID} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)
    _ok(libc().sethostname(b"sandbox", 7), "sethostname")  # the host's name is not the child's business


def _mount_flags(path: str) -> int:
    """The per-mount flags a bind of `path` must keep (the kernel locks them in a user namespace)."""
    f = os.statvfs(path).f_flag
    out = 0
    for st, ms in ((os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME),
                   (os.ST_RELATIME, MS_RELATIME)):
        if f & st:
            out |= ms
    return out


def build_root(read_only: list[str], scratch_mb: int) -> None:
    """Pivot into a fresh tmpfs that holds `read_only` dirs (bound, read-only) and /scratch."""
    new = "/tmp"
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing done here propagates back to the host
    _mount("kb-sandbox", new, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=1m,nr_inodes=512,mode=755")
    for path in read_only:
        target = new + path
        os.makedirs(target, exist_ok=True)
        _mount(path, target, None, MS_BIND)
        _mount(None, target, None, MS_REMOUNT | MS_BIND | LOCKED | _mount_flags(path))
    os.mkdir(new + SCRATCH)
    _mount("kb-scratch", new + SCRATCH, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
           f"size={max(1, scratch_mb)}m,nr_inodes=4096,mode=777")
    os.mkdir(new + "/.old")
    _ok(libc().syscall(155, b"/tmp", b"/tmp/.old"), "pivot_root")
    os.chdir("/")
    _ok(libc().umount2(b"/.old", 2), "umount old root")
    os.rmdir("/.old")
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | LOCKED)
    os.chdir(SCRATCH)


def drop_privileges() -> None:
    """Root becomes nobody (which clears every capability); anyone else drops the capabilities the
    user namespace gave it."""
    if os.geteuid() == 0:
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            return
        except OSError as e:  # root of a user namespace (a rootless container) without nobody
            if REAL_ROOT:
                raise WallError(f"dropping root to nobody: {e.strerror}") from None
    header = struct.pack("=Ii", 0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = ctypes.create_string_buffer(24)  # two zeroed {effective, permitted, inheritable}
    _ok(libc().syscall(126, ctypes.c_char_p(header), data), "capset")


def _real_root() -> bool:
    try:
        with open("/proc/self/uid_map") as f:
            return f.read().split() == ["0", "0", "4294967295"]
    except OSError:
        return True


def set_rlimits(limits: dict) -> None:
    mb = 1024 * 1024
    for res, value in ((resource.RLIMIT_AS, limits["memory_mb"] * mb),
                       (resource.RLIMIT_CPU, limits["cpu_seconds"]),
                       (resource.RLIMIT_FSIZE, limits["file_mb"] * mb),
                       (resource.RLIMIT_NOFILE, 64), (resource.RLIMIT_CORE, 0),
                       (resource.RLIMIT_NPROC, 64)):
        try:
            resource.setrlimit(res, (value, value))
        except (ValueError, OSError):
            pass


def die_with_parent() -> None:
    """SIGKILL when the parent goes; set after the last credential change, which clears it."""
    _ok(libc().prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")


# -- seccomp ---------------------------------------------------------------------------------
LD, JEQ, JGE, JSET, RET = 0x20, 0x15, 0x35, 0x45, 0x06
ALLOW, KILL = 0x7FFF0000, 0x80000000
EPERM, ENOSYS = 0x00050000 | 1, 0x00050000 | 38


def _arg(n: int, high: bool = False) -> int:
    return 16 + 8 * n + (4 if high else 0)  # offsetof(struct seccomp_data, args[n]), little endian


def filter_program(self_pid: int) -> list[tuple[int, int, int, int]]:
    """The BPF program, as (code, jt, jf, k); jumps are to labels, resolved at the end."""
    prog: list = [(LD, 0, 0, 4), (JEQ, 0, "kill", AUDIT_ARCH_X86_64), (LD, 0, 0, 0),
                  (JGE, "deny", 0, 0x40000000)]  # x32 numbers are another table: refuse them
    prog += [(JEQ, "deny", 0, nr) for nr in DENY.values()]
    prog += [(JEQ, "nosys", 0, nr) for nr in NOSYS.values()]
    prog += [(JEQ, "self", 0, nr) for nr in SELF_ONLY.values()]
    prog += [(JEQ, "unix", 0, nr) for nr in UNIX_ONLY.values()]
    prog += [(JEQ, "noexec", 0, nr) for nr in NO_EXEC_PROT.values()]
    prog += [(JEQ, "prctl", 0, PRCTL), (RET, 0, 0, ALLOW)]
    labels = {}
    for name, body in (("self", [(LD, 0, 0, _arg(0, True)), (JEQ, 0, "deny", 0), (LD, 0, 0, _arg(0)),
                                 (JEQ, "allow", "deny", self_pid)]),
                       ("unix", [(LD, 0, 0, _arg(0)), (JEQ, "allow", "deny", 1)]),
                       ("noexec", [(LD, 0, 0, _arg(2)), (JSET, "deny", "allow", 4)]),
                       ("prctl", [(LD, 0, 0, _arg(0)), (JEQ, "deny", "allow", PR_SET_PDEATHSIG)]),
                       ("allow", [(RET, 0, 0, ALLOW)]), ("deny", [(RET, 0, 0, EPERM)]),
                       ("nosys", [(RET, 0, 0, ENOSYS)]), ("kill", [(RET, 0, 0, KILL)])):
        labels[name] = len(prog)
        prog += body
    out = []
    for i, (code, jt, jf, k) in enumerate(prog):
        jt, jf = (labels[j] - i - 1 if isinstance(j, str) else j for j in (jt, jf))
        assert 0 <= jt < 256 and 0 <= jf < 256
        out.append((code, jt, jf, k))
    return out


def install_seccomp() -> None:
    if platform.machine() != "x86_64":
        raise WallError(f"seccomp filter: written for x86_64, this machine is {platform.machine()}")
    prog = filter_program(os.getpid())
    buf = ctypes.create_string_buffer(b"".join(struct.pack("=HBBI", *ins) for ins in prog))
    fprog = struct.pack("@HP", len(prog), ctypes.addressof(buf))
    _ok(libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
    _ok(libc().prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.c_char_p(fprog), 0, 0), "seccomp filter")
