#define _GNU_SOURCE
/* The function's seccomp filter: a denylist of syscalls a function never needs and an attacker
 * wants (kernel attack surface, other processes, namespaces, mounts), as classic BPF written out by
 * hand so the launcher needs no library. Everything else is allowed: the function is unprivileged
 * and capability-less, so this is a second wall, not the first. Denied calls fail with EPERM (a
 * runtime probing a feature keeps running); a foreign syscall ABI (i386 `int 0x80`, x32) kills
 * the process, because the numbers below would not mean the same calls there. */
#include "seccomp.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define SANDBOX_AUDIT_ARCH AUDIT_ARCH_X86_64
#define X32_SYSCALL_BIT 0x40000000u
#elif defined(__aarch64__)
#define SANDBOX_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "hivelab-sandbox: add this architecture's AUDIT_ARCH"
#endif

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

/* Denied with EPERM. #ifdef each: an architecture without a call has nothing to deny. */
static const int denied[] = {
#ifdef __NR_ptrace
    __NR_ptrace,
#endif
    __NR_process_vm_readv, __NR_process_vm_writev,
#ifdef __NR_pidfd_getfd
    __NR_pidfd_getfd, /* another process's descriptors: ptrace's reach */
#endif
#ifdef __NR_process_madvise
    __NR_process_madvise,
#endif
    __NR_kcmp,
#ifdef __NR_mount
    __NR_mount,
#endif
    __NR_umount2, __NR_pivot_root, __NR_chroot,
#ifdef __NR_move_mount
    __NR_move_mount, __NR_open_tree, __NR_fsopen, __NR_fsconfig, __NR_fsmount, __NR_fspick,
#endif
#ifdef __NR_mount_setattr
    __NR_mount_setattr,
#endif
#ifdef __NR_open_tree_attr
    __NR_open_tree_attr,
#endif
    __NR_unshare, __NR_setns,
    __NR_keyctl, __NR_add_key, __NR_request_key,
    __NR_bpf, __NR_userfaultfd, __NR_perf_event_open,
    __NR_kexec_load,
#ifdef __NR_kexec_file_load
    __NR_kexec_file_load,
#endif
    __NR_init_module, __NR_finit_module, __NR_delete_module,
    __NR_reboot, __NR_swapon, __NR_swapoff, __NR_acct, __NR_syslog,
    __NR_settimeofday, __NR_clock_settime, __NR_clock_adjtime, __NR_adjtimex,
    __NR_open_by_handle_at, __NR_name_to_handle_at,
#ifdef __NR_iopl
    __NR_iopl, __NR_ioperm,
#endif
#ifdef __NR_modify_ldt
    __NR_modify_ldt,
#endif
    __NR_quotactl,
#ifdef __NR_quotactl_fd
    __NR_quotactl_fd,
#endif
#ifdef __NR_lookup_dcookie
    __NR_lookup_dcookie,
#endif
#ifdef __NR_io_uring_setup
    __NR_io_uring_setup, __NR_io_uring_enter, __NR_io_uring_register,
#endif
    __NR_fanotify_init,
    __NR_sethostname, __NR_setdomainname, __NR_vhangup,
#ifdef __NR_uselib
    __NR_uselib,
#endif
#ifdef __NR__sysctl
    __NR__sysctl,
#endif
#ifdef __NR_nfsservctl
    __NR_nfsservctl,
#endif
    __NR_move_pages, __NR_migrate_pages,
};

#define NS_CLONE_FLAGS \
  (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP)

#define S(c, k) ((struct sock_filter)BPF_STMT(c, k))
#define J(c, k, t, f) ((struct sock_filter)BPF_JUMP(c, k, t, f))
#define LOAD_NR S(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define LOAD_ARG_LO(i) S(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[i]))
#define RET(v) S(BPF_RET | BPF_K, (v))
#define ERRNO(e) RET(SECCOMP_RET_ERRNO | ((e) & SECCOMP_RET_DATA))

int install_seccomp(void) {
  enum { N = sizeof denied / sizeof denied[0] };
  struct sock_filter f[N + 64];
  unsigned n = 0;

  f[n++] = S(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
  f[n++] = J(BPF_JMP | BPF_JEQ | BPF_K, SANDBOX_AUDIT_ARCH, 1, 0);
  f[n++] = RET(SECCOMP_RET_KILL_PROCESS);
  f[n++] = LOAD_NR;
#ifdef X32_SYSCALL_BIT
  f[n++] = J(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1);
  f[n++] = RET(SECCOMP_RET_KILL_PROCESS);
#endif
  /* each denied number: "if nr == X goto deny" where deny is the instruction after the list */
  for (unsigned i = 0; i < N; i++) f[n++] = J(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)denied[i], (unsigned char)(N - i), 0);
  f[n++] = J(BPF_JMP | BPF_JA, 1, 0, 0); /* skip the deny */
  f[n++] = ERRNO(EPERM);

  /* clone3's flags sit in a struct seccomp cannot read: ENOSYS makes glibc fall back to clone. */
  f[n++] = J(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1);
  f[n++] = ERRNO(ENOSYS);

  /* clone with any namespace flag (flags are args[0] on every architecture we build for) */
  f[n++] = J(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 4);
  f[n++] = LOAD_ARG_LO(0);
  f[n++] = J(BPF_JMP | BPF_JSET | BPF_K, NS_CLONE_FLAGS, 0, 1);
  f[n++] = ERRNO(EPERM);
  f[n++] = RET(SECCOMP_RET_ALLOW);

  /* personality: only the default (0) and the query (0xffffffff); no READ_IMPLIES_EXEC, no
   * ADDR_NO_RANDOMIZE for an exploit's convenience */
  f[n++] = J(BPF_JMP | BPF_JEQ | BPF_K, __NR_personality, 0, 5);
  f[n++] = LOAD_ARG_LO(0);
  f[n++] = J(BPF_JMP | BPF_JEQ | BPF_K, 0, 2, 0);
  f[n++] = J(BPF_JMP | BPF_JEQ | BPF_K, 0xffffffffu, 1, 0);
  f[n++] = ERRNO(EPERM);
  f[n++] = RET(SECCOMP_RET_ALLOW);

  /* ioctl TIOCSTI / TIOCLINUX: typing into a terminal someone else reads */
  f[n++] = J(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, 5);
  f[n++] = LOAD_ARG_LO(1);
  f[n++] = J(BPF_JMP | BPF_JEQ | BPF_K, TIOCSTI, 1, 0);
  f[n++] = J(BPF_JMP | BPF_JEQ | BPF_K, TIOCLINUX, 0, 1);
  f[n++] = ERRNO(EPERM);
  f[n++] = RET(SECCOMP_RET_ALLOW);

  f[n++] = RET(SECCOMP_RET_ALLOW);

  struct sock_fprog prog = {.len = (unsigned short)n, .filter = f};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) return -1;
  return (int)syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}
