/**
 * Which manifest `env` names are refused. A function's variables reach its own runtime only (the
 * launcher gets an empty environment and the spec on a descriptor), but names that change how the
 * dynamic loader, libc, or the Node/Python runtime itself behave would still let a manifest load
 * code before the shim runs or bend what the platform set (the shim's paths, malloc settings), and
 * they become dangerous again the moment any host-side tool is started with them. So they never get
 * past validation. Ordinary names (and PATH, NODE_ENV, TMPDIR) pass.
 */

/** glibc's own list of variables it drops for setuid programs (UNSECURE_ENVVARS), minus TMPDIR/TZDIR. */
const GLIBC_UNSECURE = new Set([
  'GCONV_PATH',
  'GETCONF_DIR',
  'GLIBC_TUNABLES',
  'HOSTALIASES',
  'LOCALDOMAIN',
  'LOCPATH',
  'MALLOC_TRACE',
  'NIS_PATH',
  'NLSPATH',
  'RESOLV_HOST_CONF',
  'RES_OPTIONS',
]);

/** Shells read these at start-up: code for every `sh -c` the function runs. */
const SHELL_STARTUP = new Set(['BASH_ENV', 'ENV', 'SHELLOPTS', 'BASHOPTS']);

/** OpenSSL (inside Node) loads engines and providers — shared objects — named by these. */
const OPENSSL = new Set(['OPENSSL_CONF', 'OPENSSL_ENGINES', 'OPENSSL_MODULES']);

/** Why `name` may not be set in a manifest, or undefined when it may. */
export function refusedEnvReason(name: string): string | undefined {
  if (name.startsWith('LD_')) return 'it changes how the dynamic loader loads every program (LD_*)';
  if (GLIBC_UNSECURE.has(name) || name.startsWith('MALLOC_')) return 'it changes how glibc behaves (the loader ignores it for setuid programs for that reason)';
  if (name.startsWith('NODE_') && name !== 'NODE_ENV') return 'it changes how the Node.js runtime starts (NODE_OPTIONS, NODE_PATH, …; NODE_ENV is allowed)';
  if (name.startsWith('PYTHON')) return 'it changes how the Python runtime starts (PYTHONPATH, PYTHONSTARTUP, PYTHONHOME, …)';
  if (name.startsWith('HIVELAB_')) return 'HIVELAB_* names are the platform\'s own';
  if (SHELL_STARTUP.has(name)) return 'shells run the file or options it names at start-up';
  if (OPENSSL.has(name)) return 'OpenSSL loads the modules it names';
  return undefined;
}
