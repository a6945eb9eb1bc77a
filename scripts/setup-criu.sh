#!/usr/bin/env bash
# Builds CRIU 4.1.1 into .cache/criu/ for snapshot cold starts (issue 4).
#
# Why not Debian's package: bookworm's criu 3.17 cannot parse the vDSO of kernels >= 6.13. Trixie's
# 4.1.1 source builds with bookworm's build dependencies, so we fetch only its orig tarball through a
# private apt configuration (the host's apt state is never touched), verify it against trixie's
# Sources index, patch one kernel incompatibility and build. Idempotent: exits at once when the
# binary exists and reports the expected version.
set -euo pipefail

CRIU_VERSION="4.1.1"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache/criu"
SRC="$CACHE/criu-$CRIU_VERSION"
BIN="$SRC/criu/criu"
# CRIU probes the kernel on every run (20-40 ms here) unless it finds its kerndat cache, which it
# keeps only on a tmpfs; this machine's /run (its default) is not one. src/snapshot/criu.ts keeps the
# folder root's own (KERNDAT_DIR there; keep the two in step).
KERNDAT_DIR="/dev/shm/hivelab-criu"
log() { echo "[setup-criu] $*"; }

# Marker strings of our patches (section 3): a binary built before one of them is rebuilt.
RLIMITS_MARK="hivelab /proc fallback"
KERNDAT_AHEAD_MARK="hivelab kerndat ahead"
NO_CGROUPD_MARK="hivelab no cgroupd"
if [[ -x "$BIN" ]] && "$BIN" --version 2>/dev/null | grep -q "Version: $CRIU_VERSION" && grep -qa "$KERNDAT_DIR" "$BIN" && grep -qa "$RLIMITS_MARK" "$BIN" && grep -qa "$KERNDAT_AHEAD_MARK" "$BIN" && grep -qa "$NO_CGROUPD_MARK" "$BIN"; then
  log "CRIU $CRIU_VERSION already built: $BIN"
  exit 0
fi

mkdir -p "$CACHE"

# --- 1. build dependencies (bookworm's) -------------------------------------------------------------
DEPS=(build-essential pkg-config libprotobuf-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler
      python3-protobuf libnl-3-dev libcap-dev libnet1-dev libaio-dev libbsd-dev libgnutls28-dev
      libnftables-dev uuid-dev libdrm-dev iptables dpkg-dev)
missing=()
for p in "${DEPS[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    log "installing build dependencies: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  else
    log "missing build dependencies (run as root to install): ${missing[*]}"; exit 1
  fi
fi

# --- 2. fetch the orig tarball through a private apt configuration ----------------------------------
TARBALL="$CACHE/criu_$CRIU_VERSION.orig.tar.xz"
if [[ ! -f "$TARBALL" ]]; then
  # Same mirror as the host uses for bookworm.
  # Only live entries ("URIs:" in deb822 files, "deb ..." lines), never comments.
  MIRROR="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
            | grep -E '^(URIs:|deb )' | grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n1 | tr -d ' ' || true)"
  MIRROR="${MIRROR:-http://deb.debian.org/debian}"
  MIRROR="${MIRROR%/}"
  APTDIR="$CACHE/apt"
  mkdir -p "$APTDIR/state/lists/partial" "$APTDIR/cache/archives/partial" "$APTDIR/etc/sources.list.d" "$APTDIR/etc/preferences.d"
  echo "deb-src $MIRROR trixie main" > "$APTDIR/etc/sources.list"
  APT_OPTS=(-o "Dir::Etc::sourcelist=$APTDIR/etc/sources.list" -o "Dir::Etc::sourceparts=$APTDIR/etc/sources.list.d"
            -o "Dir::Etc::preferencesparts=$APTDIR/etc/preferences.d"
            -o "Dir::State=$APTDIR/state" -o "Dir::State::status=/var/lib/dpkg/status" -o "Dir::Cache=$APTDIR/cache"
            -o "APT::Sandbox::User=root" -o "Debug::NoLocking=1")
  log "apt-get update (private config: deb-src $MIRROR trixie main)"
  apt-get "${APT_OPTS[@]}" update -qq
  log "downloading criu $CRIU_VERSION source (orig tarball; .dsc/debian tarball may 404)"
  ( cd "$CACHE" && apt-get "${APT_OPTS[@]}" source --download-only -qq "criu=$CRIU_VERSION-1" ) || true
  # apt-get source may leave the file under a slightly different name or fail after the orig arrived.
  [[ -f "$TARBALL" ]] || { log "orig tarball did not arrive"; exit 1; }
  # Verify against the Sources index apt just fetched and verified by signature.
  SOURCES_IDX="$(ls "$APTDIR"/state/lists/*trixie_main_source_Sources* | head -n1)"
  case "$SOURCES_IDX" in
    *.lz4) CAT=(lz4cat) ;; *.xz) CAT=(xzcat) ;; *.gz) CAT=(zcat) ;; *) CAT=(cat) ;;
  esac
  expected="$("${CAT[@]}" "$SOURCES_IDX" | awk -v f="criu_$CRIU_VERSION.orig.tar.xz" '
      /^Package: /{pkg=$2} /^Checksums-Sha256:/{inblk=1; next} /^[^ ]/{inblk=0}
      inblk && pkg=="criu" && $3==f && !done {print $1; done=1}')"
  actual="$(sha256sum "$TARBALL" | cut -d' ' -f1)"
  if [[ -z "$expected" || "$expected" != "$actual" ]]; then
    log "SHA-256 mismatch for $TARBALL (expected '${expected}', got '$actual')"; rm -f "$TARBALL"; exit 1
  fi
  log "orig tarball verified: sha256 $actual"
fi

# --- 3. unpack and patch ------------------------------------------------------------------------------
# One of our patches, unless its marker is in FILE already: the Python program on stdin edits FILE
# (sys.argv[1]; any further arguments follow it), with `replace_once`, which stops the set-up naming
# the site when an anchor of CRIU's source is not there exactly once (another CRIU version).
PATCH_PRELUDE='import sys
def replace_once(src, old, new, missing):
    if src.count(old) != 1:
        sys.exit(missing)
    return src.replace(old, new)'
patch_once() { # MARK WHAT FILE [ARGS...] <<PYTHON
  local mark=$1 what=$2 file=$3
  shift 2
  grep -q "$mark" "$file" && return 0
  log "patching $file ($what)"
  { printf '%s\n' "$PATCH_PRELUDE"; cat; } | /usr/bin/python3 - "$@"
}

if [[ ! -d "$SRC" ]]; then
  log "unpacking into $SRC"
  tar -xJf "$TARBALL" -C "$CACHE"
fi

# Kernels >= 6.16 answer getsockopt(SO_PASSCRED/SO_PASSSEC) on inet sockets with EOPNOTSUPP; CRIU
# treats any getsockopt error as fatal, so dumping a TCP/UDP socket fails. Our fix: in dump_socket_opts
# (criu/sockets.c), read those two options through a helper that maps EOPNOTSUPP to "off".
SOCKETS_C="$SRC/criu/sockets.c"
patch_once "hivelab: EOPNOTSUPP" "SO_PASSCRED/SO_PASSSEC EOPNOTSUPP = option off" "$SOCKETS_C" <<'PY'
path = sys.argv[1]
src = open(path).read()
helper = """/* hivelab: EOPNOTSUPP -- kernels >= 6.16 reject SO_PASSCRED/SO_PASSSEC on inet sockets; that means off. */
static int dump_opt_or_off(int sk, int level, int name, int *val)
{
	socklen_t len = sizeof(*val);

	if (getsockopt(sk, level, name, val, &len) == 0)
		return 0;
	if (errno == EOPNOTSUPP) {
		*val = 0;
		return 0;
	}
	pr_perror("Can't get %d:%d opt", level, name);
	return -1;
}

"""
anchor = "int dump_socket_opts(int sk, SkOptsEntry *soe)"
src = replace_once(src, anchor, helper + anchor, "patch anchor 'dump_socket_opts' not found in sockets.c")
for opt in ("SO_PASSCRED", "SO_PASSSEC"):
    old = "ret |= dump_opt(sk, SOL_SOCKET, %s, &val);" % opt
    src = replace_once(src, old, "ret |= dump_opt_or_off(sk, SOL_SOCKET, %s, &val);" % opt, "patch site for %s not found in sockets.c" % opt)
open(path, "w").write(src)
PY

# Sandboxed instances run as an unprivileged uid, and CRIU dumps their rlimits with prlimit(2) on
# the task, which for a task of another uid needs CAP_SYS_RESOURCE -- a capability some hosts
# (this one) withhold even from root: "Can't get rlimit 0: Operation not permitted". Our fix: on
# EPERM, dump_task_rlimits (criu/cr-dump.c) reads the same values from /proc/PID/limits, which
# everyone may read. (Restoring them needs nothing: the restored task lowers its own limits.)
CR_DUMP_C="$SRC/criu/cr-dump.c"
patch_once "$RLIMITS_MARK" "rlimits of another uid's task from /proc/PID/limits" "$CR_DUMP_C" <<'PY'
path = sys.argv[1]
src = open(path).read()
helper = """/* hivelab: rlimits from /proc -- prlimit() on a task of another uid needs CAP_SYS_RESOURCE, which some
 * hosts withhold even from root; /proc/PID/limits shows the same values to everyone. */
static int rlimit_from_proc(int pid, int res, struct rlimit64 *lim)
{
	char path[64], line[256], soft[32], hard[32];
	int row = -1, ret = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/limits", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (row++ != res)
			continue;
		/* "%-25s %-20s %-20s %-10s": the name, then the soft and hard limits */
		if (strlen(line) > 26 && sscanf(line + 26, "%31s %31s", soft, hard) == 2) {
			lim->rlim_cur = strcmp(soft, "unlimited") ? strtoull(soft, NULL, 10) : RLIM64_INFINITY;
			lim->rlim_max = strcmp(hard, "unlimited") ? strtoull(hard, NULL, 10) : RLIM64_INFINITY;
			ret = 0;
		}
		break;
	}
	fclose(f);
	if (ret)
		pr_err("Can't parse rlimit %d of %d from %s (hivelab /proc fallback)\\n", res, pid, path);
	return ret;
}

"""
anchor = "static int dump_task_rlimits(int pid, TaskRlimitsEntry *rls)"
src = replace_once(src, anchor, helper + anchor, "patch anchor 'dump_task_rlimits' not found in cr-dump.c")
old = """		if (syscall(__NR_prlimit64, pid, res, NULL, &lim)) {
			pr_perror("Can't get rlimit %d", res);
			return -1;
		}"""
new = """		if (syscall(__NR_prlimit64, pid, res, NULL, &lim) && (errno != EPERM || rlimit_from_proc(pid, res, &lim))) {
			pr_perror("Can't get rlimit %d", res);
			return -1;
		}"""
src = replace_once(src, old, new, "patch site prlimit64 not found in cr-dump.c")
open(path, "w").write(src)
PY

# A CRIU kept ready for a restore (`criu swrk`, src/snapshot/ready-criu.ts) still probes the kernel
# when its request arrives: kerndat_init forks and ptraces two children on every run, cache or not
# (the rseq and shadow-stack probes), ~4-8 ms here. Our change: a service worker started for a
# restore (swrk) runs kerndat_init before it waits for the request, and not again after it.
CR_SERVICE_C="$SRC/criu/cr-service.c"
patch_once "$KERNDAT_AHEAD_MARK" "a service worker probes the kernel before its request" "$CR_SERVICE_C" <<'PY'
path = sys.argv[1]
src = open(path).read()
decl_anchor = "static int setup_opts_from_req(int sk, CriuOpts *req)\n{"
src = replace_once(src, decl_anchor, "/* hivelab kerndat ahead: set once a service worker probed the kernel before its request */\nstatic bool kerndat_ahead;\n\n" + decl_anchor, "patch anchor 'setup_opts_from_req' not found in cr-service.c")
old = "\tif (kerndat_init())\n\t\treturn 1;\n\n\tif (log_keep_err()) {"
src = replace_once(src, old, "\tif (!kerndat_ahead && kerndat_init())\n\t\treturn 1;\n\n\tif (log_keep_err()) {", "patch site kerndat_init not found in cr-service.c")
old = "\tutil_init();\n\nmore:"
src = replace_once(src, old, "\tutil_init();\n\n\tif (opts.swrk_restore && kerndat_init() == 0) {\n\t\tkerndat_ahead = true;\n\t\tpr_debug(\"hivelab kerndat ahead\\n\");\n\t}\n\nmore:", "patch site cr_service_work not found in cr-service.c")
open(path, "w").write(src)
PY

# A restore forks a helper daemon (cgroupd) that moves threads into cgroup sets other than their
# task's, and kills it at the end, even when told to leave cgroups alone (--manage-cgroups=ignore,
# as every restore of ours is: the relay put CRIU in the instance's groups already). Our change:
# under `ignore` no cgroupd is started, and no thread asks for one (a thread in a set of its own
# is left where the task is, as the task itself is).
CGROUP_C="$SRC/criu/cgroup.c"
patch_once "$NO_CGROUPD_MARK" "no cgroupd when cgroups are ignored" "$CGROUP_C" "$SRC/criu/cr-restore.c" "$NO_CGROUPD_MARK" <<'PY'
cgroup_c, restore_c, mark = sys.argv[1:4]
src = open(cgroup_c).read()
old = "\t\tret = prepare_cgroup_thread_sfd();"
src = replace_once(src, old, "\t\tif (opts.manage_cgroups == CG_MODE_IGNORE) {\n\t\t\tpr_debug(\"" + mark + "\\n\");\n\t\t\tret = 0;\n\t\t} else\n\t\t\tret = prepare_cgroup_thread_sfd();", "patch site prepare_cgroup_thread_sfd not found in cgroup.c")
open(cgroup_c, "w").write(src)
src = open(restore_c).read()
old = "\t\tif (tcore->thread_core->has_cg_set && rsti(current)->cg_set != tcore->thread_core->cg_set) {"
src = replace_once(src, old, "\t\tif (opts.manage_cgroups != CG_MODE_IGNORE && tcore->thread_core->has_cg_set &&\n\t\t    rsti(current)->cg_set != tcore->thread_core->cg_set) {", "patch site thread cg_set not found in cr-restore.c")
open(restore_c, "w").write(src)
PY

# --- 4. build and check ---------------------------------------------------------------------------
log "building CRIU $CRIU_VERSION (make -j$(nproc) criu RUNDIR=$KERNDAT_DIR)"
touch "$SRC/criu/kerndat.c" # RUNDIR is compiled into kerndat.o only; an older build may have another
make -C "$SRC" -j"$(nproc)" criu RUNDIR="$KERNDAT_DIR" >"$CACHE/build.log" 2>&1 || { tail -n 40 "$CACHE/build.log"; log "build failed (log: $CACHE/build.log)"; exit 1; }
"$BIN" --version
if [[ $(id -u) -eq 0 ]]; then
  log "criu check"
  "$BIN" check || { log "criu check failed"; exit 1; }
fi
log "done: $BIN"
