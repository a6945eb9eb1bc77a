#ifndef HIVELAB_SANDBOX_SECCOMP_H
#define HIVELAB_SANDBOX_SECCOMP_H
/* Sets no_new_privs and installs the function's filter; -1 with errno on failure. */
int install_seccomp(void);
#endif
