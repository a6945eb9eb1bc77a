/* hivelab-sandbox --criu-swrk CRIU LISTEN_PATH [CGROUP_PROCS...]: one CRIU kept ready for one restore.
 *
 * Exec'ing CRIU per restore costs its dynamic linking and start-up (a sizeable part of a small
 * instance's restore on this kind of host); CRIU's own answer is its service worker, `criu swrk FD`,
 * which waits for an RPC request on a socket. This relay is made ahead of demand, with everything a
 * restore needs except the request:
 *
 *   - it joins the instance's cgroups first, so CRIU and every task it restores are charged to the
 *     instance from their first page (cgroup v1 does not move charges), and the first move's RCU
 *     grace period is paid here, not by the restore;
 *   - it binds the clone's invocation socket at LISTEN_PATH (a scratch name the worker renames into
 *     CRIU's work folder when a start claims this CRIU) and hands it to CRIU as descriptor 3, with
 *     the clone's network namespace (4) and a pipe of its own for the clone's output (1);
 *   - it unshares the clone's IPC and UTS namespaces: snapshots are dumped from inside the
 *     instance's own (src/snapshot/dump.ts), so CRIU records neither and restores the clone into
 *     the ones it inherits from here instead of creating and refilling them per restore;
 *   - it forks `CRIU swrk 5`, connected by a SOCK_SEQPACKET pair (5 in CRIU), which blocks in recv.
 *
 * Descriptors from the worker: 0 requests, 1 the clone's output pipe, 2 messages, 4 the clone's
 * network namespace, 5 responses. A request is two frames (u32 little-endian length, bytes): CRIU's
 * work folder, the images folder and the clone's hostname (NUL between), then the encoded
 * `criu_req`. The relay sets the hostname (the clone's own, not the snapshotted one), opens
 * them at descriptors 6 and 7 (CRIU reads them as /proc/<relay>/fd/N: the request's work_dir_fd and
 * images_dir_fd; 4.1.1 fails on an images_dir path), sends the request, and writes back CRIU's
 * answer framed the same way: how long CRIU took from the request to its answer, in microseconds
 * (u32: CRIU's own time, without the worker's event loop or the hand-over through our pipes;
 * bench/criu-fixed-ab.sh), then CRIU's `criu_resp`; once CRIU has exited, 0xffffffff and its wait
 * status (i32). The answer comes first: the restored tree runs from then on, and CRIU's exit
 * (freeing its memory) is nothing the worker needs to wait for. Before all that,
 * once set up, it writes an empty frame: ready (the socket exists from then on).
 *
 * The request asks for rst_sibling: the restored tree becomes the relay's child, so the relay lives
 * exactly as long as the clone, reaps it and exits with its status; the worker's SIGKILL of the
 * clone or of the relay ends both. The relay and CRIU die with the worker (parent-death signals). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "criu_swrk.h"

enum { FD_REQ = 0, FD_OUT = 1, FD_LISTENER = 3, FD_NETNS = 4, FD_RESP = 5, FD_WORKDIR = 6, FD_IMAGES = 7 };
/* a criu_req of ours is a few hundred bytes; a criu_resp with CRIU's error text stays far below */
#define MAX_FRAME (1u << 20)

/* Exit codes of the relay's own failures; mirrored in src/snapshot/ready-criu.ts (RELAY_EXIT). */
enum { EX_RELAY_SETUP = 120, EX_RELAY_REQUEST = 121, EX_RELAY_CRIU_GONE = 122 };

static void fail(int code, const char *what) {
  dprintf(2, "hivelab-sandbox --criu-swrk: %s: %s\n", what, strerror(errno));
  _exit(code);
}

static int read_full(int fd, void *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, (char *)buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    got += (size_t)r;
  }
  return 0;
}

static int write_full(int fd, const void *buf, size_t n) {
  size_t put = 0;
  while (put < n) {
    ssize_t w = write(fd, (const char *)buf + put, n - put);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    put += (size_t)w;
  }
  return 0;
}

/* Fails after killing CRIU's process group, with the reason the failed call left in errno. */
static void give_up(pid_t criu_pid, int code, const char *what) {
  int e = errno;
  kill(-criu_pid, SIGKILL);
  errno = e;
  fail(code, what);
}

/* One frame from the worker; NULL on EOF or a length over MAX_FRAME (`*eof` tells which: a worker
 * that leaves before sending anything is no error). `len` excludes the NUL added. */
static char *read_frame(int fd, uint32_t *len, int *eof) {
  unsigned char h[4];
  ssize_t r;
  do r = read(fd, h, 1);
  while (r < 0 && errno == EINTR);
  *eof = r == 0;
  if (r != 1 || read_full(fd, h + 1, 3)) return NULL;
  *len = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
  if (*len > MAX_FRAME) return NULL;
  char *buf = malloc(*len + 1);
  if (!buf || read_full(fd, buf, *len)) return NULL;
  buf[*len] = '\0';
  return buf;
}

static uint64_t monotonic_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

static void write_u32(int fd, uint32_t v) {
  unsigned char h[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
  (void)write_full(fd, h, 4);
}

/* The same descriptor moved above the numbers the protocol gives meaning to (0-7), close-on-exec. */
static int moved_high(int fd) {
  int high = fcntl(fd, F_DUPFD_CLOEXEC, 64);
  if (high < 0) fail(EX_RELAY_SETUP, "F_DUPFD");
  close(fd);
  return high;
}

static void join_cgroups(int n, char **procs) {
  char pid[32];
  int len = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
  for (int i = 0; i < n; i++) {
    int fd = open(procs[i], O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, pid, (size_t)len) != len) fail(EX_RELAY_SETUP, procs[i]);
    close(fd);
  }
}

/* The clone's listening socket at a scratch path, at descriptor 3 for CRIU's inherit_fd. */
static void bind_listener(const char *path) {
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof a.sun_path) {
    errno = ENAMETOOLONG;
    fail(EX_RELAY_SETUP, "listener path");
  }
  strcpy(a.sun_path, path);
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  if (s < 0) fail(EX_RELAY_SETUP, "socket");
  unlink(path);
  if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 511)) fail(EX_RELAY_SETUP, "binding the listener");
  if (s != FD_LISTENER && (dup2(s, FD_LISTENER) < 0 || close(s))) fail(EX_RELAY_SETUP, "dup2 listener");
}

/* Reaps children until none is left and exits with the last one's status. CRIU is reaped already,
 * so that is the restored tree's root: PID 1 of its own namespace, whose orphans go to it, not us. */
static int reap_all(void) {
  int code = 0, status;
  for (;;) {
    pid_t w = waitpid(-1, &status, 0);
    if (w < 0) {
      if (errno == EINTR) continue;
      return code;
    }
    code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
}

int criu_swrk_main(int argc, char **argv) {
  if (argc < 4) {
    dprintf(2, "usage: hivelab-sandbox --criu-swrk CRIU LISTEN_PATH [CGROUP_PROCS...]\n");
    return 2;
  }
  const char *criu = argv[2];
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)) fail(EX_RELAY_SETUP, "PR_SET_PDEATHSIG");
  if (getppid() == 1) _exit(EX_RELAY_SETUP); /* the worker is gone already */
  /* orphans of the clone's tree come to us, so we end only when all of it has */
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) fail(EX_RELAY_SETUP, "PR_SET_CHILD_SUBREAPER");
  signal(SIGPIPE, SIG_IGN);
  join_cgroups(argc - 4, argv + 4);
  bind_listener(argv[3]);
  /* made here, ahead of demand: creating an IPC namespace alone took ~1 ms of a restore */
  if (unshare(CLONE_NEWIPC | CLONE_NEWUTS)) fail(EX_RELAY_SETUP, "unshare IPC and UTS namespaces");

  /* CRIU reopens an inherited pipe through /proc/self/fd: it must be a real pipe, not the socket
   * Node gives us, so the clone writes into ours and we pass its output on */
  int out[2];
  if (pipe2(out, O_CLOEXEC)) fail(EX_RELAY_SETUP, "pipe");
  out[0] = moved_high(out[0]);
  out[1] = moved_high(out[1]);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) fail(EX_RELAY_SETUP, "socketpair");
  sv[0] = moved_high(sv[0]);
  sv[1] = moved_high(sv[1]);
  pid_t relay = getpid();
  pid_t criu_pid = fork();
  if (criu_pid < 0) fail(EX_RELAY_SETUP, "fork");
  if (criu_pid == 0) {
    /* its own process group: a relay giving up kills CRIU with whatever it forked */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) || getppid() != relay || setpgid(0, 0)) _exit(EX_RELAY_SETUP);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull < 0 || dup2(devnull, FD_REQ) < 0) fail(EX_RELAY_SETUP, "stdin");
    if (devnull != FD_REQ) close(devnull);
    /* CRIU's end of the pair takes the responses' number: CRIU must not hold our response pipe */
    if (dup2(sv[1], FD_RESP) < 0 || dup2(out[1], FD_OUT) < 0) fail(EX_RELAY_SETUP, "dup2");
    execl(criu, criu, "swrk", "5", (char *)NULL);
    fail(EX_RELAY_SETUP, criu);
  }
  close(sv[1]);
  /* Only CRIU (and then the clone) may hold the clone's end of the output pipe, its listener and
   * namespace: the end of the output tells us the clone is gone. */
  close(out[1]);
  close(FD_LISTENER);
  close(FD_NETNS);
  /* ready: the socket is bound, the cgroups joined, CRIU forked (an empty frame says so) */
  write_u32(FD_RESP, 0);

  /* Wait for the request, or for CRIU to die first (then the pair's end hangs up). */
  struct pollfd p[2] = {{.fd = FD_REQ, .events = POLLIN}, {.fd = sv[0], .events = POLLIN}};
  for (;;) {
    int r = poll(p, 2, -1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) fail(EX_RELAY_SETUP, "poll");
    if (p[0].revents) break; /* a request, or the worker gone: read_frame tells */
    if (p[1].revents) {
      int status;
      waitpid(criu_pid, &status, 0);
      dprintf(2, "hivelab-sandbox --criu-swrk: CRIU ended before any request (wait status %d)\n", status);
      _exit(EX_RELAY_CRIU_GONE);
    }
  }
  uint32_t dir_len, req_len;
  int eof = 0, eof2 = 0;
  char *dir = read_frame(FD_REQ, &dir_len, &eof);
  char *req = dir ? read_frame(FD_REQ, &req_len, &eof2) : NULL;
  if (!req) {
    /* the worker dropped us (or sent garbage): nothing to restore */
    kill(-criu_pid, SIGKILL);
    waitpid(criu_pid, NULL, 0);
    if (!eof) dprintf(2, "hivelab-sandbox --criu-swrk: malformed request (a frame cut short or over %u bytes)\n", MAX_FRAME);
    _exit(eof ? 0 : EX_RELAY_REQUEST);
  }
  close(FD_REQ);
  const char *images = dir + strlen(dir) + 1;
  if (images > dir + dir_len) images = "";
  const char *hostname = images + strlen(images) + 1;
  if (hostname > dir + dir_len || !*hostname) {
    /* without one the clone would see the host's name (copied by unshare) */
    errno = EINVAL;
    give_up(criu_pid, EX_RELAY_REQUEST, "the request names no hostname");
  }
  if (sethostname(hostname, strlen(hostname))) give_up(criu_pid, EX_RELAY_REQUEST, "sethostname");
  const char *paths[2] = {dir, images};
  const int at[2] = {FD_WORKDIR, FD_IMAGES};
  for (int i = 0; i < 2; i++) {
    int fd = open(paths[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || dup2(fd, at[i]) < 0) give_up(criu_pid, EX_RELAY_REQUEST, paths[i]);
    if (fd != at[i]) close(fd);
  }
  uint64_t sent_us = monotonic_us();
  if (send(sv[0], req, req_len, MSG_NOSIGNAL) != (ssize_t)req_len) give_up(criu_pid, EX_RELAY_CRIU_GONE, "sending the request to CRIU");
  char *resp = malloc(MAX_FRAME);
  ssize_t n;
  do n = recv(sv[0], resp, MAX_FRAME, 0);
  while (n < 0 && errno == EINTR);
  uint64_t criu_us = monotonic_us() - sent_us;
  if (n > 0) {
    write_u32(FD_RESP, (uint32_t)n + 4);
    write_u32(FD_RESP, criu_us > UINT32_MAX ? UINT32_MAX : (uint32_t)criu_us);
    (void)write_full(FD_RESP, resp, (size_t)n);
  }
  close(sv[0]);
  int status = 0;
  while (waitpid(criu_pid, &status, 0) < 0 && errno == EINTR) {
  }
  write_u32(FD_RESP, 0xffffffffu);
  write_u32(FD_RESP, (uint32_t)status);
  close(FD_RESP);
  close(FD_WORKDIR);
  close(FD_IMAGES);
  /* the clone's output, on to the worker until the clone (every holder of the pipe) is gone */
  char chunk[16384];
  for (;;) {
    ssize_t r = read(out[0], chunk, sizeof chunk);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    (void)write_full(FD_OUT, chunk, (size_t)r);
  }
  return reap_all();
}
