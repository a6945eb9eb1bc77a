/**
 * A checker for the subset of OpenAPI v3 that Kubernetes' structural schemas use (what a CRD's
 * `openAPIV3Schema` may contain): type, properties, required, items, additionalProperties, enum,
 * anyOf, format int32/int64, x-kubernetes-int-or-string and x-kubernetes-preserve-unknown-fields.
 * Unknown fields are errors (as `kubectl apply --validate=strict` reports them) rather than being
 * pruned silently. Returns every problem with its path; empty means valid.
 */
export interface StructuralSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  properties?: Record<string, StructuralSchema>;
  required?: string[];
  items?: StructuralSchema;
  additionalProperties?: boolean | StructuralSchema;
  enum?: unknown[];
  anyOf?: StructuralSchema[];
  format?: string;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

const INT32 = 2 ** 31;

export function checkStructural(value: unknown, schema: StructuralSchema, path = ''): string[] {
  const at = path || '(root)';
  if (schema['x-kubernetes-int-or-string']) {
    return (typeof value === 'string' || Number.isInteger(value)) ? [] : [`${at}: must be an integer or a string`];
  }
  if (schema.anyOf && !schema.anyOf.some((s) => checkStructural(value, s, path).length === 0)) return [`${at}: matches none of its alternatives`];
  if (schema.enum && !schema.enum.includes(value)) return [`${at}: must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}`];
  switch (schema.type) {
    case undefined:
      return [];
    case 'string':
      return typeof value === 'string' ? [] : [`${at}: must be a string`];
    case 'boolean':
      return typeof value === 'boolean' ? [] : [`${at}: must be a boolean`];
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? [] : [`${at}: must be a number`];
    case 'integer': {
      if (!Number.isInteger(value)) return [`${at}: must be an integer`];
      if (schema.format === 'int32' && ((value as number) >= INT32 || (value as number) < -INT32)) return [`${at}: out of int32 range`];
      return [];
    }
    case 'array': {
      if (!Array.isArray(value)) return [`${at}: must be an array`];
      return schema.items ? value.flatMap((v, i) => checkStructural(v, schema.items!, `${path}[${i}]`)) : [];
    }
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${at}: must be an object`];
      const obj = value as Record<string, unknown>;
      // A bare `type: object` is ObjectMeta in a CRD (`metadata`), which the API server checks by
      // its own rules (checkObjectMeta below), not by the CRD's schema.
      if (!schema.properties && schema.additionalProperties === undefined) return [];
      const errors: string[] = [];
      for (const r of schema.required ?? []) if (obj[r] === undefined) errors.push(`${path ? `${path}.` : ''}${r}: required`);
      for (const [k, v] of Object.entries(obj)) {
        const sub = `${path ? `${path}.` : ''}${k}`;
        const prop = schema.properties?.[k];
        if (prop) errors.push(...checkStructural(v, prop, sub));
        else if (typeof schema.additionalProperties === 'object') errors.push(...checkStructural(v, schema.additionalProperties, sub));
        else if (schema.additionalProperties !== true && !schema['x-kubernetes-preserve-unknown-fields']) errors.push(`${sub}: unknown field`);
      }
      return errors;
    }
  }
}

const DNS_LABEL = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** The parts of ObjectMeta an exported object uses: a DNS-1035 name, string labels and annotations. */
export function checkObjectMeta(meta: unknown, path = 'metadata'): string[] {
  if (typeof meta !== 'object' || meta === null) return [`${path}: must be an object`];
  const m = meta as Record<string, unknown>;
  const errors: string[] = [];
  if (typeof m.name !== 'string' || !DNS_LABEL.test(m.name)) errors.push(`${path}.name: must be a DNS-1035 label (lower-case, at most 63)`);
  if (m.namespace !== undefined && (typeof m.namespace !== 'string' || !DNS_LABEL.test(m.namespace))) errors.push(`${path}.namespace: must be a DNS-1035 label`);
  for (const k of ['labels', 'annotations']) {
    const map = m[k];
    if (map === undefined) continue;
    if (typeof map !== 'object' || map === null) errors.push(`${path}.${k}: must be a map`);
    else for (const [key, v] of Object.entries(map)) if (typeof v !== 'string') errors.push(`${path}.${k}.${key}: must be a string`);
  }
  return errors;
}
