import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { parseCommandArgs, UsageError, type Command } from '../command.js';
import { connect, callJson } from '../../gateway/client.js';
import type { FunctionManifest } from '../../manifest/schema.js';
import { knativeServiceFor } from '../../export/knative.js';

const usage = `
usage: hivelab export knative [--registry REF] [--namespace NS] [--out FILE] [--state DIR]

Writes one Knative Service (serving.knative.dev/v1) per deployed function, as multi-document YAML
(stdout, or FILE), ready for \`kubectl apply -f\`: scaling → autoscaling.knative.dev/* annotations,
concurrency → containerConcurrency, memoryMB → resources, timeoutMs → timeoutSeconds.

Each service's image:
  a function folder                  REF/<name>:<version>, the image \`hivelab build --tag <version>\`
                                     is to make of the folder (default REF: registry.local/hivelab)
  deploy --image from a registry     that image pinned by digest: HOST/REPO@sha256:<manifest digest>
  deploy --image from a local        REF/<name>:<first 12 hex of the image id>; a note on stderr
  layout or archive                  gives the \`skopeo copy\` that pushes it there
Settings Knative cannot express are reported on stderr as warnings.
`;

interface Listed {
  name: string;
  version: string;
  manifest: FunctionManifest;
}

const command: Command = {
  summary: 'write Knative Services for the deployed functions',
  usage,
  async run(argv) {
    const { values, positionals } = parseCommandArgs({
      args: argv,
      allowPositionals: true,
      options: {
        state: { type: 'string' },
        registry: { type: 'string', default: 'registry.local/hivelab' },
        namespace: { type: 'string', default: 'default' },
        out: { type: 'string' },
      },
    });
    if (positionals.length !== 1 || positionals[0] !== 'knative') throw new UsageError('expected the target: hivelab export knative');
    if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(values.namespace)) throw new UsageError(`--namespace ${JSON.stringify(values.namespace)} is not a Kubernetes namespace name`);
    if (!/^[A-Za-z0-9][A-Za-z0-9._:/-]*$/.test(values.registry)) throw new UsageError(`--registry ${JSON.stringify(values.registry)} is not an image reference prefix`);
    const c = await connect(values.state);
    const { functions } = await callJson<{ functions: Listed[] }>(c, 'GET', '/v1/functions');
    if (functions.length === 0) {
      process.stderr.write('no functions deployed: nothing to export\n');
      return 1;
    }
    const docs: string[] = [];
    for (const f of functions) {
      const { service, warnings, notes } = knativeServiceFor(f.manifest, f.version, { registry: values.registry, namespace: values.namespace });
      for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
      for (const n of notes) process.stderr.write(`note: ${n}\n`);
      docs.push(stringify(service));
    }
    const text = docs.join('---\n');
    if (values.out) await writeFile(values.out, text);
    else process.stdout.write(text);
    return 0;
  },
};
export default command;
