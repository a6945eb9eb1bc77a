/* The launcher's spec: what the worker hands over on an inherited descriptor (never argv/environ). */
#ifndef HIVELAB_SANDBOX_SPEC_H
#define HIVELAB_SANDBOX_SPEC_H

#include <stddef.h>
#include <sys/types.h>

#define MAX_ITEMS 256

struct bind {
  const char *src; /* host path */
  const char *dst; /* path inside the sandbox root */
  int readonly;
  int noexec;
};

struct tmpfs {
  const char *dst;
  unsigned long long size_bytes;
  unsigned mode;
  int noexec;
};

struct rlim {
  const char *name; /* nofile | fsize | core | nproc */
  unsigned long long value;
};

struct spec {
  const char *cgroups[16];
  int n_cgroups;
  const char *root;
  struct bind binds[MAX_ITEMS];
  int n_binds;
  struct tmpfs tmpfses[16];
  int n_tmpfses;
  unsigned long long shm_bytes;
  const char *hostname;
  long uid, gid;
  struct rlim rlimits[8];
  int n_rlimits;
  int keep_fd; /* -1: none */
  int no_pdeathsig; /* spec "pdeathsig 0": no parent-death signal for the runtime (CRIU snapshots) */
  const char *cwd;
  const char *argv[MAX_ITEMS + 1];
  int n_argv;
  const char *env[MAX_ITEMS * 4 + 1];
  int n_env;
};

/* Parses `len` bytes of netstrings (`<len>:<bytes>,`) into `out`; strings point into `buf`, which
 * is modified (each string's trailing ',' becomes its NUL). Returns NULL or a message. */
const char *spec_parse(char *buf, size_t len, struct spec *out);

#endif
