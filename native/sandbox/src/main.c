/* hivelab-sandbox: starts one function instance in its sandbox (docs/SANDBOX.md).
 *
 *   hivelab-sandbox --spec-fd N
 *   hivelab-sandbox --mount-run DIR UID GID BYTES   (the worker's run-folder tmpfs, on the host)
 *   hivelab-sandbox --umount-run DIR
 *   hivelab-sandbox --run-dir-server   (the same two, one request line each on stdin, for a worker)
 *   hivelab-sandbox --criu-swrk CRIU LISTEN_PATH [CGROUP_PROCS...]   (a CRIU kept ready for a restore, criu_swrk.c)
 *
 * The worker (root) spawns it with an empty environment and writes the spec to descriptor N (then
 * closes its end). The launcher joins the instance's cgroups, clones a child into new mount, PID,
 * network, IPC and UTS namespaces and waits for it, exiting with its status (128+signal when it was
 * killed). The child — PID 1 of its namespace — builds the root, drops to the function's uid with
 * no capabilities, installs the seccomp filter and execs the runtime.
 *
 * Every failure before the exec prints "hivelab-sandbox: <step>: <why>" on stderr (the instance
 * log) and exits with the step's code (see `enum step`), so the worker can name what failed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "criu_swrk.h"
#include "seccomp.h"
#include "spec.h"

/* Exit codes of the launcher's own failures (before the runtime runs); mirrored in
 * src/sandbox/launch.ts (LAUNCHER_EXIT_STEPS). */
enum step {
  EX_USAGE_ = 2,
  EX_SPEC = 110,
  EX_CGROUP = 111,
  EX_CLONE = 112,
  EX_MOUNT = 113,
  EX_PIVOT = 114,
  EX_NET = 115,
  EX_PROC = 116, /* rlimits, setsid, parent death */
  EX_CREDS = 117,
  EX_CAPS = 118,
  EX_SECCOMP = 119,
  EX_FDS = 120,
  EX_EXEC = 121,
};

static void die(int code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
static void die(int code, const char *fmt, ...) {
  int e = errno;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  dprintf(2, "hivelab-sandbox: %s%s%s\n", msg, e ? ": " : "", e ? strerror(e) : "");
  _exit(code);
}
#define DIE(code, ...) (errno = errno, die(code, __VA_ARGS__))
#define FAIL(code, ...) (errno = 0, die(code, __VA_ARGS__))

/* ---------------------------------------------------------------- the spec */

static char *read_all(int fd, size_t *len) {
  size_t cap = 16384, n = 0;
  char *buf = malloc(cap);
  if (!buf) return NULL;
  for (;;) {
    if (n == cap) {
      if (cap >= (8u << 20)) { errno = EFBIG; free(buf); return NULL; }
      cap *= 2;
      char *b = realloc(buf, cap);
      if (!b) { free(buf); return NULL; }
      buf = b;
    }
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) { free(buf); return NULL; }
    if (r == 0) break;
    n += (size_t)r;
  }
  *len = n;
  return buf;
}

/* ---------------------------------------------------------------- mounts */

static int root_fd = -1;       /* the sandbox root (bind of spec.root) while building it */
static const char *root_path;  /* for messages */

/* Opens a mountpoint beneath the root without following any symlink, so an image's rootfs with
 * `/tmp -> /` (or `../..`) cannot point a mount anywhere else. The mountpoint must exist: the
 * launcher creates nothing in the root (it may be read-only, or an image). */
static int open_mountpoint(const char *dst, int code) {
  struct open_how how = {
      .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
      .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
  };
  const char *rel = dst + strspn(dst, "/");
  if (!*rel) rel = ".";
  int fd = (int)syscall(SYS_openat2, root_fd, rel, &how, sizeof how);
  if (fd < 0) {
    if (errno == ENOENT) DIE(code, "mountpoint %s missing in root %s (the root must provide it)", dst, root_path);
    DIE(code, "mountpoint %s in root %s (a directory, no symlink on the way)", dst, root_path);
  }
  return fd;
}

static const char *fd_path(int fd, char *buf, size_t n) {
  snprintf(buf, n, "/proc/self/fd/%d", fd);
  return buf;
}

static int mount_setattr_(int dfd, const char *path, unsigned flags, struct mount_attr *a) {
  return (int)syscall(SYS_mount_setattr, dfd, path, flags, a, sizeof *a);
}

/* Sets attributes on the mount at `fd` (and every mount beneath it when `recursive`). */
static void set_attrs(int fd, unsigned long long attrs, int recursive, const char *what) {
  struct mount_attr a = {.attr_set = attrs};
  if (mount_setattr_(fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &a))
    DIE(EX_MOUNT, "setting ro/nosuid/nodev/noexec on %s", what);
}

static void do_bind(const struct bind *b) {
  char p[64];
  int fd = open_mountpoint(b->dst, EX_MOUNT);
  /* recursive, so a system folder's own submounts come along (and are made read-only below) */
  if (mount(b->src, fd_path(fd, p, sizeof p), NULL, MS_BIND | MS_REC, NULL)) DIE(EX_MOUNT, "bind %s -> %s", b->src, b->dst);
  close(fd);
  fd = open_mountpoint(b->dst, EX_MOUNT);
  unsigned long long a = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  if (b->readonly) a |= MOUNT_ATTR_RDONLY;
  if (b->noexec) a |= MOUNT_ATTR_NOEXEC;
  set_attrs(fd, a, 1, b->dst);
  close(fd);
}

static void do_tmpfs(const char *dst, unsigned long long size, unsigned mode, unsigned long flags) {
  char p[64], opts[96];
  int fd = open_mountpoint(dst, EX_MOUNT);
  snprintf(opts, sizeof opts, "size=%llu,mode=%o", size, mode);
  if (mount("tmpfs", fd_path(fd, p, sizeof p), "tmpfs", flags, opts)) DIE(EX_MOUNT, "tmpfs %s (%s)", dst, opts);
  close(fd);
}

/* The sandbox's /dev: these nodes and links and an empty shm/, nothing else. The launcher makes it
 * in each booted instance; the run-dir server makes one shared copy for restored clones. */
static const struct { const char *name; unsigned maj, min; } dev_nodes[] = {
    {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};
static const struct { const char *target, *name; } dev_links[] = {
    {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
};

/* Fills an empty /dev folder; NULL on success, else the step that failed. */
static const char *fill_dev(int dfd) {
  for (size_t i = 0; i < sizeof dev_nodes / sizeof dev_nodes[0]; i++) {
    if (mknodat(dfd, dev_nodes[i].name, S_IFCHR | 0666, makedev(dev_nodes[i].maj, dev_nodes[i].min)) || fchmodat(dfd, dev_nodes[i].name, 0666, 0))
      return dev_nodes[i].name;
  }
  for (size_t i = 0; i < sizeof dev_links / sizeof dev_links[0]; i++)
    if (symlinkat(dev_links[i].target, dfd, dev_links[i].name)) return dev_links[i].name;
  if (mkdirat(dfd, "shm", 01777) || fchmodat(dfd, "shm", 01777, 0)) return "shm";
  return NULL;
}

static void make_dev(unsigned long long shm_bytes) {
  do_tmpfs("/dev", 64 * 1024, 0755, MS_NOSUID | MS_NOEXEC);
  int dev = open_mountpoint("/dev", EX_MOUNT);
  int dfd = openat(dev, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) DIE(EX_MOUNT, "opening /dev");
  const char *failed = fill_dev(dfd);
  if (failed) DIE(EX_MOUNT, "making /dev/%s", failed);
  close(dfd);
  do_tmpfs("/dev/shm", shm_bytes ? shm_bytes : 64ull << 20, 01777, MS_NOSUID | MS_NODEV | MS_NOEXEC);
  /* /dev itself read-only: nothing more gets created in it (its /dev/shm stays writable) */
  set_attrs(dev, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, 0, "/dev");
  close(dev);
}

static void build_root(const struct spec *s) {
  char p[64];
  /* nothing we mount propagates back to the host, nor host mounts in */
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) DIE(EX_MOUNT, "making / private");
  /* The root must be a mount (pivot_root); a bind of itself. Not recursive: whatever the host has
   * mounted below the root folder stays out. */
  if (mount(s->root, s->root, NULL, MS_BIND, NULL)) DIE(EX_MOUNT, "bind root %s", s->root);
  root_path = s->root;
  root_fd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (root_fd < 0) DIE(EX_MOUNT, "opening root %s", s->root);

  for (int i = 0; i < s->n_binds; i++) do_bind(&s->binds[i]);
  for (int i = 0; i < s->n_tmpfses; i++) {
    const struct tmpfs *t = &s->tmpfses[i];
    do_tmpfs(t->dst, t->size_bytes, t->mode, MS_NOSUID | MS_NODEV | (t->noexec ? MS_NOEXEC : 0));
  }
  int proc = open_mountpoint("/proc", EX_MOUNT);
  /* we are PID 1 of the new PID namespace, so this procfs shows only its processes. Read-only as a
   * whole, where writes would reach the host's kernel (sysctls, sysrq, irq affinity, bus devices)
   * and nowhere a runtime needs to write: one mount instead of a read-only cover over each of those
   * five (each a mount every CRIU restore replays) */
  if (mount("proc", fd_path(proc, p, sizeof p), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL)) DIE(EX_MOUNT, "mount /proc");
  close(proc);
  make_dev(s->shm_bytes);

  if (fchdir(root_fd)) DIE(EX_PIVOT, "chdir to root %s", s->root);
  /* pivot_root(".", "."): the old root ends up stacked on the new one and is detached right away,
   * so no put_old folder is needed in the (possibly read-only) root */
  if (syscall(SYS_pivot_root, ".", ".")) DIE(EX_PIVOT, "pivot_root into %s", s->root);
  if (umount2(".", MNT_DETACH)) DIE(EX_PIVOT, "detaching the old root");
  if (chdir("/")) DIE(EX_PIVOT, "chdir /");
  close(root_fd);
  root_fd = -1;
  struct mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
  if (mount_setattr_(AT_FDCWD, "/", 0, &a)) DIE(EX_PIVOT, "remounting / read-only");
}

/* ---------------------------------------------------------------- the rest of the child */

static void loopback_up(void) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) DIE(EX_NET, "socket for lo");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFFLAGS, &ifr)) DIE(EX_NET, "reading lo flags");
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(fd, SIOCSIFFLAGS, &ifr)) DIE(EX_NET, "bringing lo up");
  close(fd);
}

static void set_rlimits(const struct spec *s) {
  for (int i = 0; i < s->n_rlimits; i++) {
    const char *n = s->rlimits[i].name;
    int r = !strcmp(n, "nofile") ? RLIMIT_NOFILE : !strcmp(n, "fsize") ? RLIMIT_FSIZE : !strcmp(n, "core") ? RLIMIT_CORE : RLIMIT_NPROC;
    struct rlimit rl = {s->rlimits[i].value, s->rlimits[i].value};
    if (setrlimit(r, &rl)) DIE(EX_PROC, "setrlimit %s=%llu", n, s->rlimits[i].value);
  }
}

static void drop_privileges(const struct spec *s) {
  /* bounding set first: that needs CAP_SETPCAP, which goes with the uid change */
  for (int cap = 0; cap <= 63; cap++) {
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno != EINVAL) DIE(EX_CAPS, "dropping capability %d from the bounding set", cap);
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL) DIE(EX_CAPS, "clearing ambient capabilities");
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0)) DIE(EX_CAPS, "clearing keepcaps");
  if (setgroups(0, NULL)) DIE(EX_CREDS, "setgroups()");
  if (setresgid((gid_t)s->gid, (gid_t)s->gid, (gid_t)s->gid)) DIE(EX_CREDS, "setresgid %ld", s->gid);
  if (setresuid((uid_t)s->uid, (uid_t)s->uid, (uid_t)s->uid)) DIE(EX_CREDS, "setresuid %ld", s->uid);
  /* the uid change cleared permitted and effective; clear inheritable too, then check */
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  memset(d, 0, sizeof d);
  if (syscall(SYS_capset, &h, d)) DIE(EX_CAPS, "capset(0)");
  if (syscall(SYS_capget, &h, d)) DIE(EX_CAPS, "capget");
  for (int i = 0; i < 2; i++)
    if (d[i].effective || d[i].permitted || d[i].inheritable) FAIL(EX_CAPS, "capabilities left after dropping them");
  uid_t r, e, sv;
  if (getresuid(&r, &e, &sv) || r != (uid_t)s->uid || e != r || sv != r) FAIL(EX_CREDS, "uid did not change");
  if (setuid(0) == 0) FAIL(EX_CREDS, "could become root again");
}

/* Dies with the host-side launcher (which dies with the worker). Set after the uid change, which
 * clears the parent-death signal; `death` is a pipe whose write end only the launcher holds, so
 * a launcher already gone before the prctl shows as a hang-up. */
static void die_with_parent(int death, int no_pdeathsig) {
  if (!no_pdeathsig && prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)) DIE(EX_PROC, "PR_SET_PDEATHSIG");
  struct pollfd pfd = {death, POLLIN, 0};
  if (poll(&pfd, 1, 0) != 0) FAIL(EX_PROC, "the launcher died while the sandbox was being built");
}

static void close_fds(int keep) {
  /* close_range: one call, even with a huge nofile limit */
  if (keep >= 3) {
    if (keep > 3 && syscall(SYS_close_range, 3, keep - 1, 0)) DIE(EX_FDS, "close_range");
    if (syscall(SYS_close_range, keep + 1, ~0u, 0)) DIE(EX_FDS, "close_range");
  } else if (syscall(SYS_close_range, 3, ~0u, 0)) {
    DIE(EX_FDS, "close_range");
  }
}

static int child_main(const struct spec *s, int death) {
  build_root(s);
  /* stdin becomes the sandbox's own /dev/null: the worker's is a file of the host's /dev, which
   * CRIU cannot dump (no mount of the sandbox holds it) and which need not be visible inside */
  int null = open("/dev/null", O_RDONLY); /* no CLOEXEC: it may itself be fd 0 */
  if (null < 0 || dup2(null, 0) < 0) DIE(EX_FDS, "stdin from /dev/null");
  if (null != 0) close(null);
  loopback_up();
  if (s->hostname && sethostname(s->hostname, strlen(s->hostname))) DIE(EX_NET, "sethostname %s", s->hostname);
  set_rlimits(s);
  /* a new session: no controlling terminal to inject into (and CRIU wants the session's leader
   * inside the dumped tree) */
  if (setsid() < 0) DIE(EX_PROC, "setsid");
  drop_privileges(s);
  die_with_parent(death, s->no_pdeathsig);
  close(death);
  if (s->keep_fd >= 0 && fcntl(s->keep_fd, F_GETFD) < 0) DIE(EX_FDS, "keep-fd %d is not open", s->keep_fd);
  close_fds(s->keep_fd);
  if (chdir(s->cwd)) DIE(EX_EXEC, "chdir %s", s->cwd);
  umask(022);
  if (install_seccomp()) DIE(EX_SECCOMP, "installing the seccomp filter");
  execve(s->argv[0], (char *const *)s->argv, (char *const *)s->env);
  DIE(EX_EXEC, "execve %s", s->argv[0]);
}

/* ---------------------------------------------------------------- the host-side parent */

static volatile pid_t child_pid;

static void forward(int sig) {
  if (child_pid > 0) kill(child_pid, sig);
}

static void join_cgroups(const struct spec *s) {
  char pid[32];
  int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
  for (int i = 0; i < s->n_cgroups; i++) {
    int fd = open(s->cgroups[i], O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, pid, (size_t)n) != n) DIE(EX_CGROUP, "joining cgroup %s", s->cgroups[i]);
    close(fd);
  }
}

static long number_arg(const char *s, long max) {
  char *e;
  errno = 0;
  long v = strtol(s, &e, 10);
  if (errno || *e || !*s || v < 0 || v > max) {
    dprintf(2, "hivelab-sandbox: not a number in range: %s\n", s);
    _exit(EX_USAGE_);
  }
  return v;
}

/* The instance's run folder on the host: a small tmpfs (its pages are charged to whoever writes
 * them: the instance), owned by the function's uid, 0700, and nothing in it can be executed or
 * act as setuid or device. A separate mode of this binary because Node cannot call mount(2) and
 * util-linux's mount costs several times more to start. */
static int mount_run(char **argv) {
  const char *dir = argv[2];
  long uid = number_arg(argv[3], 0xFFFFFFFEl), gid = number_arg(argv[4], 0xFFFFFFFEl), bytes = number_arg(argv[5], 1l << 40);
  char opts[128];
  if (dir[0] != '/') FAIL(EX_USAGE_, "--mount-run needs an absolute folder");
  snprintf(opts, sizeof opts, "size=%ld,mode=0700,uid=%ld,gid=%ld", bytes, uid, gid);
  if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts)) DIE(EX_MOUNT, "mounting the run folder %s (%s)", dir, opts);
  return 0;
}

static int umount_run(const char *dir) {
  if (umount2(dir, MNT_DETACH | UMOUNT_NOFOLLOW) && errno != EINVAL && errno != ENOENT) DIE(EX_MOUNT, "unmounting the run folder %s", dir);
  return 0;
}

/* A restored clone's /tmp or /dev/shm on the host (CRIU binds it in as an external mount): a tmpfs
 * owned by root with the sandbox's mode, size-limited, nosuid, nodev, noexec unless asked. */
static const char *mount_clone_tmpfs(const char *dir, const char *bytes, const char *mode, const char *exec) {
  static char why[256];
  char *e1, *e2, opts[128];
  unsigned long long size = strtoull(bytes, &e1, 10);
  unsigned long m = strtoul(mode, &e2, 8);
  if (*e1 || *e2 || !*bytes || !*mode || m > 07777 || (strcmp(exec, "exec") && strcmp(exec, "noexec"))) return "bad numbers";
  snprintf(opts, sizeof opts, "size=%llu,mode=%lo", size, m);
  unsigned long flags = MS_NOSUID | MS_NODEV | (strcmp(exec, "noexec") ? 0 : MS_NOEXEC);
  if (mount("tmpfs", dir, "tmpfs", flags, opts)) return snprintf(why, sizeof why, "mounting %s: %s", dir, strerror(errno)), why;
  return NULL;
}

/* The /dev every restored clone shares: a small tmpfs (not nodev, so its nodes work) with the
 * sandbox's nodes, then read-only, nosuid, noexec. A bind of it is each clone's /dev. */
static const char *mount_shared_dev(const char *dir) {
  static char why[256];
  if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NOEXEC, "size=65536,mode=0755"))
    return snprintf(why, sizeof why, "mounting %s: %s", dir, strerror(errno)), why;
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  const char *failed = dfd < 0 ? "." : fill_dev(dfd);
  if (dfd >= 0) close(dfd);
  if (!failed && mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL)) failed = "read-only";
  if (failed) {
    int e = errno;
    umount2(dir, MNT_DETACH);
    return snprintf(why, sizeof why, "making %s/%s: %s", dir, failed, strerror(e)), why;
  }
  return NULL;
}

/* Network namespaces made ahead of demand for restored clones: a child unshares one, brings its
 * loopback up and waits; the worker opens /proc/PID/ns/net (the descriptor keeps the namespace)
 * and asks for the child's release. CRIU then restores into it as the clone's external netns,
 * with no network replay and no action script. */
#define MAX_NETNS_HOLDERS 64
static pid_t netns_holders[MAX_NETNS_HOLDERS];

static const char *make_netns(pid_t *out) {
  static char why[256];
  int slot = -1;
  for (int i = 0; i < MAX_NETNS_HOLDERS; i++)
    if (!netns_holders[i]) { slot = i; break; }
  if (slot < 0) return "too many namespaces waiting to be released";
  int ready[2];
  if (pipe2(ready, O_CLOEXEC)) return "pipe";
  pid_t pid = fork();
  if (pid < 0) return close(ready[0]), close(ready[1]), "fork";
  if (pid == 0) {
    close(ready[0]);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (unshare(CLONE_NEWNET)) _exit(1);
    loopback_up();
    if (write(ready[1], "1", 1) != 1) _exit(1);
    for (;;) pause();
  }
  close(ready[1]);
  char c;
  ssize_t n;
  do n = read(ready[0], &c, 1); while (n < 0 && errno == EINTR);
  close(ready[0]);
  if (n != 1) {
    waitpid(pid, NULL, 0);
    return snprintf(why, sizeof why, "the namespace holder failed (unshare or lo up)"), why;
  }
  netns_holders[slot] = pid;
  *out = pid;
  return NULL;
}

static const char *release_netns(const char *arg) {
  char *e;
  long pid = strtol(arg, &e, 10);
  if (*e || pid <= 0) return "bad pid";
  for (int i = 0; i < MAX_NETNS_HOLDERS; i++) {
    if (netns_holders[i] != pid) continue;
    kill((pid_t)pid, SIGKILL);
    while (waitpid((pid_t)pid, NULL, 0) < 0 && errno == EINTR) {}
    netns_holders[i] = 0;
    return NULL;
  }
  return "not a namespace holder of this server";
}

/* The worker's long-lived mounter: one spawn per worker instead of one per instance start (a spawn
 * from a large Node process costs milliseconds; a line over a pipe, microseconds). Requests, one per
 * line, tab-separated, each answered "ok" (or "ok PID") or "error <why>":
 *   m DIR UID GID BYTES          a run folder (mount_run)
 *   u DIR                        unmount
 *   t DIR BYTES MODE exec|noexec a restored clone's /tmp or /dev/shm
 *   d DIR                        the /dev restored clones share
 *   n / r PID                    a network namespace made ahead (make_netns), its holder released
 * It ends with its stdin (the worker) or with the worker (parent-death signal). */
static int run_dir_server(void) {
  char line[8192];
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)) DIE(EX_PROC, "PR_SET_PDEATHSIG");
  FILE *in = fdopen(0, "r");
  if (!in) DIE(EX_USAGE_, "stdin");
  setvbuf(stdout, NULL, _IOLBF, 0);
  while (fgets(line, sizeof line, in)) {
    char *f[6] = {0};
    int n = 0;
    line[strcspn(line, "\n")] = '\0';
    for (char *p = line, *tok; n < 6 && (tok = strsep(&p, "\t"));) f[n++] = tok;
    if (n == 5 && !strcmp(f[0], "m") && f[1][0] == '/') {
      char *e1, *e2, *e3;
      unsigned long uid = strtoul(f[2], &e1, 10), gid = strtoul(f[3], &e2, 10);
      unsigned long long bytes = strtoull(f[4], &e3, 10);
      char opts[128];
      if (*e1 || *e2 || *e3 || !*f[2] || !*f[3] || !*f[4]) { printf("error bad numbers\n"); continue; }
      snprintf(opts, sizeof opts, "size=%llu,mode=0700,uid=%lu,gid=%lu", bytes, uid, gid);
      if (mount("tmpfs", f[1], "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts)) printf("error mounting %s: %s\n", f[1], strerror(errno));
      else printf("ok\n");
    } else if (n == 2 && !strcmp(f[0], "u") && f[1][0] == '/') {
      if (umount2(f[1], MNT_DETACH | UMOUNT_NOFOLLOW) && errno != EINVAL && errno != ENOENT) printf("error unmounting %s: %s\n", f[1], strerror(errno));
      else printf("ok\n");
    } else if (n == 5 && !strcmp(f[0], "t") && f[1][0] == '/') {
      const char *err = mount_clone_tmpfs(f[1], f[2], f[3], f[4]);
      if (err) printf("error %s\n", err);
      else printf("ok\n");
    } else if (n == 2 && !strcmp(f[0], "d") && f[1][0] == '/') {
      const char *err = mount_shared_dev(f[1]);
      if (err) printf("error %s\n", err);
      else printf("ok\n");
    } else if (n == 1 && !strcmp(f[0], "n")) {
      pid_t pid = 0;
      const char *err = make_netns(&pid);
      if (err) printf("error %s\n", err);
      else printf("ok %d\n", (int)pid);
    } else if (n == 2 && !strcmp(f[0], "r")) {
      const char *err = release_netns(f[1]);
      if (err) printf("error %s\n", err);
      else printf("ok\n");
    } else {
      printf("error malformed request\n");
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "--run-dir-server")) return run_dir_server();
  if (argc == 6 && !strcmp(argv[1], "--mount-run")) return mount_run(argv);
  if (argc == 3 && !strcmp(argv[1], "--umount-run")) return umount_run(argv[2]);
  if (argc >= 2 && !strcmp(argv[1], "--criu-swrk")) return criu_swrk_main(argc, argv);
  if (argc != 3 || strcmp(argv[1], "--spec-fd")) {
    dprintf(2, "usage: hivelab-sandbox --spec-fd N   (the spec is read from descriptor N; see docs/SANDBOX.md)\n"
                   "       hivelab-sandbox --mount-run DIR UID GID BYTES | --umount-run DIR | --run-dir-server\n");
    return EX_USAGE_;
  }
  char *end;
  long sfd = strtol(argv[2], &end, 10);
  if (*end || sfd < 3 || sfd > 1 << 20) {
    dprintf(2, "hivelab-sandbox: --spec-fd needs a descriptor number above 2, got %s\n", argv[2]);
    return EX_USAGE_;
  }
  /* the worker's death ends us (and, through the child's own parent-death signal, the sandbox) */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)) DIE(EX_PROC, "PR_SET_PDEATHSIG");
  if (getppid() == 1) FAIL(EX_PROC, "the worker died before the launcher started");

  size_t len;
  char *buf = read_all((int)sfd, &len);
  if (!buf) DIE(EX_SPEC, "reading the spec from descriptor %ld", sfd);
  close((int)sfd);
  static struct spec s;
  const char *err = spec_parse(buf, len, &s);
  if (err) FAIL(EX_SPEC, "bad spec: %s", err);
  if (s.keep_fd == sfd) FAIL(EX_SPEC, "bad spec: keep-fd is the spec descriptor");

  /* first of all: every page from here on is charged to the instance */
  join_cgroups(&s);

  int death[2];
  if (pipe2(death, O_CLOEXEC)) DIE(EX_CLONE, "pipe");
  pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) DIE(EX_CLONE, "clone (new mount, pid, net, ipc, uts namespaces)");
  if (pid == 0) {
    close(death[1]);
    _exit(child_main(&s, death[0]));
  }
  child_pid = pid;
  close(death[0]);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = forward;
  sigemptyset(&sa.sa_mask);
  int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
  /* hold nothing of the child's: stdin, the readiness pipe, the spec — only stderr for messages
   * and the death pipe */
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull >= 0) {
    dup2(devnull, 0);
    dup2(devnull, 1);
  }
  for (int fd = 3; fd < 1024; fd++)
    if (fd != death[1]) close(fd);
  syscall(SYS_close_range, 1024, ~0u, 0);

  int status;
  for (;;) {
    pid_t w = waitpid(pid, &status, 0);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) DIE(EX_CLONE, "waitpid");
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}
