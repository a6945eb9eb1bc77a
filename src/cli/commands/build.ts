import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseCommandArgs, UsageError, type Command } from '../command.js';
import { buildImage, DEFAULT_BASE_CACHE, writeBuildSummary } from '../../image-build/build.js';

const usage = `
usage: hivelab build FUNCTION_DIR --out IMAGE.tar [--base-cache DIR] [--package PKG ...]
                     [--format oci-archive|docker-archive] [--tag TAG] [--repository NAME]

Makes an OCI image of a function folder that runs under any OCI runtime (runc, containerd, Knative) and
serves Knative's runtime contract: HTTP/1.1 on $PORT (default 8080), an invocation is \`POST /\`
with the event as the body; a server program (\`command\` in function.json) is the entrypoint as
it is, on its own port. Layers: a Debian base (the host's release and apt sources) made by
mmdebstrap from Debian's packages (cached,
content-addressed, in --base-cache, default ${DEFAULT_BASE_CACHE}), the host's Node 20 for Node
functions, the runtime shim, the npm packages the code requires, the folder at /var/task.
The same folder and base give the same digests. Writes IMAGE.tar (an OCI layout in a tar:
\`skopeo copy oci-archive:IMAGE.tar …\`) and IMAGE.tar.json (digests, layers, sizes).

Options:
  --out FILE           the image archive to write (required)
  --base-cache DIR     where base layers are cached (the first build of a package set takes
                       1-2 min and needs root)
  --package PKG        a Debian package the function needs beyond the ones found (repeatable)
  --format F           oci-archive (default) or docker-archive (the same layout plus Docker's manifest.json)
  --tag TAG            the tag in the layout (default: latest)
  --repository NAME    the repository name Docker's manifest.json records (default: hivelab/<function>)
  --quiet              no progress lines
`;

const command: Command = {
  summary: 'make an OCI image (oci-archive) of a function folder',
  usage,
  async run(argv) {
    const { values, positionals } = parseCommandArgs({
      args: argv,
      allowPositionals: true,
      options: {
        out: { type: 'string' },
        'base-cache': { type: 'string' },
        package: { type: 'string', multiple: true },
        format: { type: 'string', default: 'oci-archive' },
        tag: { type: 'string' },
        repository: { type: 'string' },
        quiet: { type: 'boolean', default: false },
      },
    });
    if (positionals.length !== 1) throw new UsageError('expected one FUNCTION_DIR');
    const dir = positionals[0]!;
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`${dir} is not a folder`);
    if (!existsSync(join(dir, 'function.json'))) throw new UsageError(`${dir} has no function.json`);
    if (!values.out) throw new UsageError('--out IMAGE.tar is required');
    if (values.format !== 'oci-archive' && values.format !== 'docker-archive') throw new UsageError(`--format must be oci-archive or docker-archive, got "${values.format}"`);
    for (const p of values.package ?? []) if (!/^[a-z0-9][a-z0-9+.-]+$/.test(p)) throw new UsageError(`--package ${JSON.stringify(p)} is not a Debian package name`);
    if (values.tag !== undefined && !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(values.tag)) throw new UsageError(`--tag ${JSON.stringify(values.tag)} is not an image tag`);
    if (values.repository !== undefined && !/^[a-z0-9]+(?:[._/-][a-z0-9]+)*$/.test(values.repository)) throw new UsageError(`--repository ${JSON.stringify(values.repository)} is not a repository name`);
    const t0 = Date.now();
    const r = await buildImage({
      dir,
      out: values.out,
      baseCache: values['base-cache'],
      packages: values.package,
      docker: values.format === 'docker-archive',
      tag: values.tag,
      repository: values.repository,
      progress: values.quiet ? undefined : (line) => process.stderr.write(`[build ${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}\n`),
    });
    await writeBuildSummary(r);
    for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
    const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
    for (const l of r.layers) process.stderr.write(`  ${l.digest.slice(0, 19)}  ${mb(l.size).padStart(9)}  ${l.what}\n`);
    process.stderr.write(`built ${r.out} (${mb(r.archiveBytes)}, base ${r.base.built ? `made in ${r.base.mmdebstrapSeconds.toFixed(0)} s` : 'cached'}) in ${r.seconds.toFixed(1)} s\n`);
    // stdout: the manifest digest alone, for scripts (as `docker build -q` prints the image id)
    process.stdout.write(`${r.manifestDigest}\n`);
    return 0;
  },
};
export default command;
