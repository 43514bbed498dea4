/**
 * serverless.yml as written, with its `${file()}` includes resolved and `resources` / `functions`
 * arrays deep-merged the way osls does (`Service.mergeArrays`). No osls run, no variables resolved.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export type FunctionConfig = {
  handler: string;
  timeout?: number;
  role?: unknown;
  url?: unknown;
  events?: unknown[];
};

export const root = (path: string): string => fileURLToPath(new URL(`../../${path}`, import.meta.url));

/** `${file(./path)}` filling a whole string (the only include form the configuration uses). */
const FILE_INCLUDE = /^\$\{file\((\.\/[^)]+)\)\}$/;

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** Deep merge of plain objects (later wins), as osls merges `resources` / `functions` arrays. */
const mergeObjects = (target: Record<string, unknown>, source: Record<string, unknown>) => {
  for (const [key, value] of Object.entries(source)) {
    const existing = target[key];
    target[key] = isObject(existing) && isObject(value) ? mergeObjects({ ...existing }, value) : value;
  }
  return target;
};

/** A YAML file of the repository with its `${file()}` includes replaced by the included documents. */
export const readWithIncludes = (path: string): unknown => {
  const resolve = (node: unknown): unknown => {
    if (typeof node === 'string') {
      const include = FILE_INCLUDE.exec(node)?.[1];
      return include?.endsWith('.yml') ? readWithIncludes(include) : node;
    }
    if (Array.isArray(node)) return node.map(resolve);
    if (isObject(node)) return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, resolve(v)]));
    return node;
  };
  return resolve(parse(readFileSync(root(path), 'utf8')));
};

export const readServerless = (): unknown => {
  const config = readWithIncludes('serverless.yml') as Record<string, unknown>;
  for (const key of ['resources', 'functions']) {
    const value = config[key];
    if (Array.isArray(value)) config[key] = value.filter(isObject).reduce(mergeObjects, {});
  }
  return config;
};

export const serverless = readServerless() as {
  params: { default: Record<string, unknown> };
  custom: Record<string, unknown>;
  provider: { timeout: number; runtime: string; architecture: string; environment: Record<string, unknown> };
  functions: Record<string, FunctionConfig>;
  stepFunctions: { validate: boolean; stateMachines: Record<string, Record<string, unknown>> };
  resources: { Resources: Record<string, { Properties: Record<string, unknown> }> };
};
