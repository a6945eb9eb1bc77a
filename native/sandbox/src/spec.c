/* Spec parsing. The encoding is a flat list of netstrings: a key, then as many fields as the key
 * takes (see the table). Netstrings because values (env, argv) may hold any byte but NUL, including
 * newlines, and an empty argv entry is legal. Any unknown key or malformed item fails the start:
 * the worker and the launcher are built together, so a mismatch is a bug to report, not skip. */
#include "spec.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

struct cursor {
  char *p, *end;
};

static const char *next_string(struct cursor *c, const char **out) {
  size_t n = 0;
  char *p = c->p;
  if (p >= c->end) return "truncated spec";
  while (p < c->end && *p >= '0' && *p <= '9') {
    n = n * 10 + (size_t)(*p - '0');
    if (n > (1u << 24)) return "spec string too long";
    p++;
  }
  if (p == c->p || p >= c->end || *p != ':') return "malformed length in spec";
  p++;
  if ((size_t)(c->end - p) < n + 1 || p[n] != ',') return "malformed string in spec";
  if (memchr(p, '\0', n)) return "NUL byte inside a spec string";
  p[n] = '\0';
  *out = p;
  c->p = p + n + 1;
  return NULL;
}

static int parse_ull(const char *s, unsigned long long *v, int base) {
  char *e;
  if (!*s) return -1;
  errno = 0;
  *v = strtoull(s, &e, base);
  return (errno || *e) ? -1 : 0;
}

static int has_word(const char *opts, const char *word) {
  size_t wl = strlen(word);
  for (const char *p = opts; *p;) {
    const char *comma = strchr(p, ',');
    size_t l = comma ? (size_t)(comma - p) : strlen(p);
    if (l == wl && strncmp(p, word, wl) == 0) return 1;
    if (!comma) break;
    p = comma + 1;
  }
  return 0;
}

/* A sandbox path must be absolute and free of `..` and `.` components (mount targets are resolved
 * beneath the root anyway, this only makes mistakes loud). */
static int clean_abs_path(const char *p) {
  if (p[0] != '/') return 0;
  for (const char *s = p; *s;) {
    while (*s == '/') s++;
    const char *e = strchr(s, '/');
    size_t l = e ? (size_t)(e - s) : strlen(s);
    if ((l == 1 && s[0] == '.') || (l == 2 && s[0] == '.' && s[1] == '.')) return 0;
    s += l;
  }
  return 1;
}

const char *spec_parse(char *buf, size_t len, struct spec *o) {
  struct cursor c = {buf, buf + len};
  memset(o, 0, sizeof *o);
  o->uid = o->gid = -1;
  o->keep_fd = -1;
  while (c.p < c.end) {
    const char *key, *f[4];
    const char *err = next_string(&c, &key);
    if (err) return err;
    int arity;
    if (!strcmp(key, "cgroup") || !strcmp(key, "root") || !strcmp(key, "hostname") || !strcmp(key, "uid") ||
        !strcmp(key, "gid") || !strcmp(key, "keep-fd") || !strcmp(key, "cwd") || !strcmp(key, "arg") ||
        !strcmp(key, "env") || !strcmp(key, "shm") || !strcmp(key, "pdeathsig"))
      arity = 1;
    else if (!strcmp(key, "rlimit"))
      arity = 2;
    else if (!strcmp(key, "bind"))
      arity = 3;
    else if (!strcmp(key, "tmpfs"))
      arity = 4;
    else
      return "unknown key in spec";
    for (int i = 0; i < arity; i++)
      if ((err = next_string(&c, &f[i]))) return err;
    unsigned long long v;
    if (!strcmp(key, "cgroup")) {
      if (o->n_cgroups >= 16) return "too many cgroups";
      o->cgroups[o->n_cgroups++] = f[0];
    } else if (!strcmp(key, "root")) {
      if (f[0][0] != '/') return "root must be an absolute path";
      o->root = f[0];
    } else if (!strcmp(key, "pdeathsig")) {
      /* "0": the runtime outlives the launcher (CRIU snapshots: a restored root task would get its
       * parent-death signal the moment CRIU exits; the worker kills those through their cgroup) */
      if (strcmp(f[0], "0") && strcmp(f[0], "1")) return "pdeathsig must be 0 or 1";
      o->no_pdeathsig = !strcmp(f[0], "0");
    } else if (!strcmp(key, "hostname")) {
      o->hostname = f[0];
    } else if (!strcmp(key, "uid") || !strcmp(key, "gid")) {
      if (parse_ull(f[0], &v, 10) || v == 0 || v >= 0xFFFFFFFFull) return "uid/gid must be a non-zero number";
      if (key[0] == 'u') o->uid = (long)v;
      else o->gid = (long)v;
    } else if (!strcmp(key, "keep-fd")) {
      if (parse_ull(f[0], &v, 10) || v < 3 || v > INT_MAX) return "keep-fd must be a descriptor above 2";
      o->keep_fd = (int)v;
    } else if (!strcmp(key, "cwd")) {
      if (!clean_abs_path(f[0])) return "cwd must be a clean absolute path";
      o->cwd = f[0];
    } else if (!strcmp(key, "arg")) {
      if (o->n_argv >= MAX_ITEMS) return "too many arguments";
      o->argv[o->n_argv++] = f[0];
    } else if (!strcmp(key, "env")) {
      if (o->n_env >= MAX_ITEMS * 4) return "too many environment variables";
      if (!strchr(f[0], '=') || f[0][0] == '=') return "environment entry without NAME=";
      o->env[o->n_env++] = f[0];
    } else if (!strcmp(key, "shm")) {
      if (parse_ull(f[0], &v, 10)) return "shm size must be a number";
      o->shm_bytes = v;
    } else if (!strcmp(key, "rlimit")) {
      if (o->n_rlimits >= 8) return "too many rlimits";
      if (strcmp(f[0], "nofile") && strcmp(f[0], "fsize") && strcmp(f[0], "core") && strcmp(f[0], "nproc"))
        return "unknown rlimit (nofile, fsize, core, nproc)";
      if (parse_ull(f[1], &v, 10)) return "rlimit value must be a number";
      o->rlimits[o->n_rlimits].name = f[0];
      o->rlimits[o->n_rlimits++].value = v;
    } else if (!strcmp(key, "bind")) {
      if (o->n_binds >= MAX_ITEMS) return "too many binds";
      if (f[0][0] != '/' || !clean_abs_path(f[1])) return "bind needs an absolute source and a clean absolute target";
      if (!has_word(f[2], "ro") && !has_word(f[2], "rw")) return "bind options must say ro or rw";
      o->binds[o->n_binds].src = f[0];
      o->binds[o->n_binds].dst = f[1];
      o->binds[o->n_binds].readonly = has_word(f[2], "ro");
      o->binds[o->n_binds++].noexec = has_word(f[2], "noexec");
    } else if (!strcmp(key, "tmpfs")) {
      unsigned long long mode;
      if (o->n_tmpfses >= 16) return "too many tmpfs";
      if (!clean_abs_path(f[0])) return "tmpfs target must be a clean absolute path";
      if (parse_ull(f[1], &v, 10) || v == 0) return "tmpfs size must be a positive number of bytes";
      if (parse_ull(f[2], &mode, 8) || mode > 07777) return "tmpfs mode must be octal";
      o->tmpfses[o->n_tmpfses].dst = f[0];
      o->tmpfses[o->n_tmpfses].size_bytes = v;
      o->tmpfses[o->n_tmpfses].mode = (unsigned)mode;
      o->tmpfses[o->n_tmpfses++].noexec = has_word(f[3], "noexec");
    }
  }
  if (!o->root) return "spec has no root";
  if (o->uid < 0 || o->gid < 0) return "spec has no uid/gid";
  if (o->n_argv == 0) return "spec has no argv";
  if (!strchr(o->argv[0], '/')) return "argv[0] must be a path";
  if (!o->cwd) o->cwd = "/";
  o->argv[o->n_argv] = NULL;
  o->env[o->n_env] = NULL;
  return NULL;
}
