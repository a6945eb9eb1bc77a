"""A hostile function: every op tries to cross one wall of the sandbox and reports what happened.

It reports, it never asserts: test/sandbox/hostile/hostile.test.ts judges the outcome, so the same
function shows the escape on a weak sandbox and the refusal on a strong one. Nothing here harms
the host when it succeeds (core_pattern is written with its own value, files only opened).
"""
import errno
import json
import os
import shutil
import socket
import stat
import subprocess
import sys

CHUNK = b"\0" * (1 << 20)


def err_name(e):
    return errno.errorcode.get(e.errno, str(e.errno)) if isinstance(e, OSError) else type(e).__name__


def try_call(fn):
    try:
        out = fn()
        return {"ok": True, "value": out}
    except Exception as e:  # noqa: BLE001 - every failure is data here
        return {"ok": False, "error": err_name(e)}


def proc_sys():
    res = {}

    def rewrite_core_pattern():
        with open("/proc/sys/kernel/core_pattern") as f:
            cur = f.read()
        with open("/proc/sys/kernel/core_pattern", "w") as f:
            f.write(cur)
        return cur.strip()

    res["core_pattern"] = try_call(rewrite_core_pattern)
    writable = []
    for d, _, files in os.walk("/proc/sys"):
        for name in files:
            p = os.path.join(d, name)
            try:
                fd = os.open(p, os.O_WRONLY)  # opened, never written
                os.close(fd)
                writable.append(p)
            except OSError:
                pass
    res["writable"] = writable
    return res


def read_paths(paths):
    out = {}
    for p in paths:
        def read(p=p):
            if os.path.isdir(p):
                return os.listdir(p)
            with open(p, "rb") as f:
                return len(f.read())
        out[p] = try_call(read)
    return out


def processes():
    procs = []
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                with open(f"/proc/{e}/cmdline", "rb") as f:
                    procs.append({"pid": int(e), "cmd": f.read().replace(b"\0", b" ").decode(errors="replace")})
            except OSError:
                pass
    return procs


# Syscalls run in a fresh single-threaded interpreter (unshare refuses multi-threaded callers).
SYSCALL_PROBE = r'''
import ctypes, ctypes.util, errno, json, os, time
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def sc(nr, *args):
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    return "ok" if r >= 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))
res = {}
child = os.fork()
if child == 0:
    time.sleep(30)
    os._exit(0)
buf = ctypes.create_string_buffer(64)
iov = (ctypes.c_void_p * 2)(ctypes.cast(buf, ctypes.c_void_p), 64)
res["ptrace_attach"] = sc(101, 16, child, 0, 0)             # PTRACE_ATTACH a child of our own uid
res["process_vm_readv"] = sc(310, child, ctypes.addressof(iov), 1, ctypes.addressof(iov), 1, 0)
res["kcmp"] = sc(312, os.getpid(), child, 0, 0, 0)
res["keyctl"] = sc(250, 0, -2, 1)                           # KEYCTL_GET_KEYRING_ID, process keyring, create
s_user, s_k, s_v, s_tmpfs = (ctypes.create_string_buffer(x) for x in (b"user", b"k", b"v", b"tmpfs"))
res["add_key"] = sc(248, ctypes.addressof(s_user), ctypes.addressof(s_k), ctypes.addressof(s_v), 1, -2)
res["bpf"] = sc(321, 0, 0, 0)
res["userfaultfd"] = sc(323, 0)
res["perf_event_open"] = sc(298, 0, 0, -1, -1, 0)
res["io_uring_setup"] = sc(425, 1, 0)
res["clone3"] = sc(435, 0, 0)
res["personality_no_aslr"] = sc(135, 0x0040000)
res["name_to_handle_at"] = sc(303, -100, 0, 0, 0, 0)
res["fsopen"] = sc(430, ctypes.addressof(s_tmpfs), 0)
res["setns"] = sc(308, os.open("/proc/self/ns/net", os.O_RDONLY), 0)
res["mount_tmpfs"] = "ok" if libc.mount(b"tmpfs", b"/tmp", b"tmpfs", 0, None) == 0 else errno.errorcode[ctypes.get_errno()]
res["unshare_user"] = sc(272, 0x10000000)                   # CLONE_NEWUSER
res["unshare_mnt"] = sc(272, 0x00020000)                    # CLONE_NEWNS
# a user namespace would give a fresh set of capabilities: try to mount a tmpfs inside one
if res["unshare_user"] == "ok":
    sc(272, 0x00020000)
    res["mount_in_userns"] = "ok" if libc.mount(b"tmpfs", b"/tmp", b"tmpfs", 0, None) == 0 else errno.errorcode[ctypes.get_errno()]
os.kill(child, 9)
with open("/proc/self/status") as f:
    res["status"] = {k: v.strip() for k, v in (l.split(":", 1) for l in f if ":" in l) if k in ("Uid", "Gid", "CapEff", "CapPrm", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp")}
print(json.dumps(res))
'''


def syscalls():
    out = subprocess.run([sys.executable, "-c", SYSCALL_PROBE], capture_output=True, timeout=30)
    if out.returncode != 0:
        return {"probe_failed": out.returncode, "stderr": out.stderr.decode(errors="replace")[-2000:]}
    return json.loads(out.stdout)


def plant_setuid():
    res = {}
    for d in ("/run/hivelab", "/tmp"):
        p = os.path.join(d, "planted-id")
        def plant(p=p):
            shutil.copy("/usr/bin/id", p)
            os.chmod(p, 0o4755)
            st = os.stat(p)
            return {"uid": st.st_uid, "mode": oct(stat.S_IMODE(st.st_mode))}
        res[d] = try_call(plant)

        def run(p=p):
            r = subprocess.run([p, "-u"], capture_output=True, timeout=10)
            return r.stdout.decode().strip()
        res[d + ":exec"] = try_call(run)
    res["uid"] = os.getuid()
    return res


def fill(path, cap_mb):
    written = 0
    error = None
    try:
        with open(path, "wb") as f:
            while written < cap_mb << 20:
                f.write(CHUNK)
                f.flush()
                written += len(CHUNK)
    except OSError as e:
        error = err_name(e)
    try:
        written_on_disk = os.stat(path).st_size
    except OSError:
        written_on_disk = written
    return {"written": written_on_disk, "error": error}


def spin(n):
    pids = []
    for _ in range(n):
        p = subprocess.Popen([sys.executable, "-c", "import time\n# hivelab-hostile-spinner\nwhile True: pass"],
                             start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pids.append(p.pid)
    return pids


def network(port):
    res = {}

    def connect(host, p):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(3)
        try:
            s.connect((host, p))
            return "connected"
        finally:
            s.close()
    res["host_gateway"] = try_call(lambda: connect("127.0.0.1", port))
    res["outside"] = try_call(lambda: connect("192.0.2.1", 80))
    with open("/proc/net/dev") as f:
        res["interfaces"] = [l.split(":")[0].strip() for l in f.readlines()[2:]]
    return res


def handler(event, context):
    op = event.get("op")
    if op == "whoami":
        return {"instance": os.environ.get("HIVELAB_INSTANCE"), "uid": os.getuid(), "gid": os.getgid()}
    if op == "proc-sys":
        return proc_sys()
    if op == "read":
        return read_paths(event["paths"])
    if op == "processes":
        return processes()
    if op == "syscalls":
        return syscalls()
    if op == "plant-setuid":
        return plant_setuid()
    if op == "fill":
        return fill(event["path"], event["capMB"])
    if op == "unlink":
        return try_call(lambda: os.unlink(event["path"]))
    if op == "spin":
        return spin(event.get("n", 2))
    if op == "mountinfo":
        with open("/proc/self/mountinfo") as f:
            return {"text": f.read()}
    if op == "network":
        return network(event["port"])
    raise ValueError(f"unknown op {op!r}")
