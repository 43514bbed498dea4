/**
 * Lambda bundles: each function bundles only the SDK clients it calls (lazy per-client modules,
 * tree-shaken), and the esbuild plugin that makes the SDK schemas tree-shakable changes no schema.
 * Sizes and load times are benchmark figures (`npm run bench:lambdas`), not asserted here.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import type * as z from 'zod';

const require = createRequire(import.meta.url);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const plugins = require(join(ROOT, 'esbuild-plugins.cjs')) as esbuild.Plugin[] & {
  literalKeys: (source: string) => { contents: string; rewritten: number };
  SCHEMA_MODULE: RegExp;
  namespaceZodImports: (source: string) => { contents: string; rewritten: number };
  POWERTOOLS_PARSER_MODULE: RegExp;
};
const scratch = mkdtempSync(join(tmpdir(), 'bundles-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const schemaModule = (client: string) =>
  join(dirname(require.resolve(`@aws-sdk/${client}/package.json`)), 'dist-es/schemas/schemas_0.js');

/** ESM bundle of `entry` with or without the plugins, imported from a scratch file. */
async function importBundle(entry: string, withPlugins: boolean): Promise<Record<string, unknown>> {
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    write: false,
    logLevel: 'error',
    // Entries written into the scratch folder resolve packages from this checkout.
    nodePaths: [join(ROOT, 'node_modules')],
    plugins: withPlugins ? plugins : [],
  });
  const file = join(scratch, `${withPlugins ? 'with' : 'without'}-${readdirSync(scratch).length}.mjs`);
  writeFileSync(file, result.outputFiles[0]?.text ?? '');
  return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
}

/** Structural equality of two module graphs: functions by source text, Maps by entries. */
function sameShape(a: unknown, b: unknown, seen = new Map<unknown, unknown>()): boolean {
  if (typeof a === 'function' || typeof b === 'function') return String(a) === String(b);
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return Object.is(a, b);
  if (seen.get(a) === b) return true;
  seen.set(a, b);
  if (Object.getPrototypeOf(a)?.constructor?.name !== Object.getPrototypeOf(b)?.constructor?.name)
    return false;
  const entries = (value: object) => (value instanceof Map ? [...value.entries()] : Object.entries(value));
  const [left, right] = [entries(a), entries(b)];
  return (
    left.length === right.length &&
    left.every(([key, value], index) => {
      const [otherKey, otherValue] = right[index] as [unknown, unknown];
      return sameShape(key, otherKey, seen) && sameShape(value, otherValue, seen);
    })
  );
}

describe('esbuild plugin sdk-schema-literal-keys', () => {
  it.each([
    [
      'const _a = "error";\nexport var X = { [_a]: 1 };',
      'const _a = "error";\nexport var X = { "error": 1 };',
      1,
    ],
    [
      'const _a = "e";\nconst _b = "h";\nvar Y = [1, {[_a]: _b, [_b]: 400}];',
      'const _a = "e";\nconst _b = "h";\nvar Y = [1, {"e": _b, "h": 400}];',
      2,
    ],
    // Not a module-level string constant, or not a key position: left alone.
    ['let _a = "x";\nvar Z = { [_a]: 1 };', 'let _a = "x";\nvar Z = { [_a]: 1 };', 0],
    ['const _n = 3;\nvar Z = { [_n]: 1 };', 'const _n = 3;\nvar Z = { [_n]: 1 };', 0],
    ['const _a = "x";\nvar W = c ? m[_a]: 2;', 'const _a = "x";\nvar W = c ? m[_a]: 2;', 0],
  ])('rewrites computed keys naming string constants (%#)', (source, expected, rewritten) => {
    expect(plugins.literalKeys(source)).toEqual({ contents: expected, rewritten });
  });

  it.each(['client-ec2', 'client-ssm', 'client-sfn', 'client-ssm-incidents'])(
    '%s: the rewritten schemas are the same objects, with no computed key left',
    async (client) => {
      const path = schemaModule(client);
      expect(plugins.SCHEMA_MODULE.test(path)).toBe(true);

      const [original, rewritten] = [await importBundle(path, false), await importBundle(path, true)];

      expect(Object.keys(rewritten).sort()).toEqual(Object.keys(original).sort());
      expect(Object.keys(original).length).toBeGreaterThan(10);
      expect(sameShape(rewritten, original)).toBe(true);
      const { contents } = plugins.literalKeys(readFileSync(path, 'utf8'));
      expect(contents).not.toMatch(/[{,]\s*\[_\w+\]:/);
    },
    60_000,
  );

  it('notices a changed schema (the comparison can fail)', () => {
    expect(sameShape({ a: [1, { error: 'client' }] }, { a: [1, { error: 'server' }] })).toBe(false);
    expect(sameShape({ f: () => 1 }, { f: () => 2 })).toBe(false);
  });
});

describe('esbuild plugin zod-namespace-imports', () => {
  it.each([
    [
      "import { z } from 'zod';\nexport const A = z.object({});",
      "import * as z from 'zod';\nexport const A = z.object({});",
      1,
    ],
    ['import { z } from "zod";', 'import * as z from "zod";', 1],
    // Other imports of zod, or of another package's `z`, are left alone.
    ["import { z as y } from 'zod';", "import { z as y } from 'zod';", 0],
    ["import { ZodError } from 'zod';", "import { ZodError } from 'zod';", 0],
    ["import { z } from 'zod/mini';", "import { z } from 'zod/mini';", 0],
    ["  import { z } from 'zod';", "  import { z } from 'zod';", 0],
  ])('rewrites the named import of z (%#)', (source, expected, rewritten) => {
    expect(plugins.namespaceZodImports(source)).toEqual({ contents: expected, rewritten });
  });

  it('applies to the Powertools parser schemas our functions use, which parse as before', async () => {
    const schemas = ['eventbridge', 'sns', 'lambda'];
    // lambda.js builds on api-gatewayv2.js, which imports zod.
    for (const name of ['eventbridge', 'sns', 'api-gatewayv2']) {
      const path = join(ROOT, `node_modules/@aws-lambda-powertools/parser/lib/esm/schemas/${name}.js`);
      expect(plugins.POWERTOOLS_PARSER_MODULE.test(path)).toBe(true);
      expect(plugins.namespaceZodImports(readFileSync(path, 'utf8')).rewritten).toBe(1);
    }
    const entry = join(scratch, 'parser-schemas.ts');
    writeFileSync(
      entry,
      schemas.map((name) => `export * from '@aws-lambda-powertools/parser/schemas/${name}';`).join('\n'),
    );
    const [original, rewritten] = [await importBundle(entry, false), await importBundle(entry, true)];
    const parse = (module: Record<string, unknown>, schema: string, event: unknown) =>
      JSON.parse(JSON.stringify((module[schema] as z.ZodType).safeParse(event))) as unknown;
    const scheduled = JSON.parse(
      readFileSync(join(ROOT, 'tests/events/eventbridge/scheduled.json'), 'utf8'),
    ) as Record<string, unknown>;
    const cases: [string, unknown][] = [
      ['EventBridgeSchema', scheduled],
      ['EventBridgeSchema', { ...scheduled, time: 'yesterday', resources: 'none' }],
      ['SnsSchema', { Records: [{ EventSource: 'aws:sns' }] }],
      ['LambdaFunctionUrlSchema', { version: '2.0' }],
    ];
    for (const [schema, event] of cases) {
      expect(parse(rewritten, schema, event)).toEqual(parse(original, schema, event));
    }
    expect(parse(rewritten, 'EventBridgeSchema', scheduled)).toMatchObject({ success: true });
    expect(parse(rewritten, 'SnsSchema', cases[2]?.[1])).toMatchObject({ success: false });
  }, 60_000);
});

describe('function bundles', () => {
  /** The SDK clients each function calls, through its ports (functions/commons/aws/wiring.ts). */
  const CLIENTS: Record<string, string[]> = {
    'acquire-promotion-lease': ['dynamodb'],
    'apply-retention': ['ec2', 'ssm'],
    'check-distribution': [],
    'check-instance-online': ['ssm'],
    'check-probe-result': ['ssm'],
    'cleanup-after-failure': ['dynamodb', 'ec2', 'ssm'],
    'check-region-copy': ['ec2'],
    'codecommit-push': ['ec2', 'sfn', 'ssm'],
    'copy-image-to-region': ['ec2'],
    'find-candidate-image': ['ec2'],
    'github-webhook': ['ec2', 'sfn', 'ssm'],
    'inspect-candidate': ['ec2', 's3', 'ssm'],
    'launch-test-instance': ['ec2'],
    'notify-failure': ['eventbridge', 'sfn', 'ssm'],
    'notify-success': ['sfn', 'ssm'],
    'open-incident': ['ssm', 'ssm-incidents'],
    'prepare-build': ['codecommit', 'dynamodb', 'ec2', 'ssm'],
    'probe-test-instance': ['ssm'],
    'promote-image': ['ec2', 'eventbridge', 'ssm'],
    'release-promotion-lease': ['dynamodb'],
    'rollout-channel': ['auto-scaling'],
    'share-region-copy': ['ec2'],
    'rollback-channel': ['dynamodb', 'ec2', 'eventbridge', 'ssm'],
    'sweep-leftovers': ['ec2', 'sfn', 'ssm'],
    'terminate-test-instance': ['ec2'],
    'watch-base-images': ['ec2', 'sfn', 'ssm'],
  };

  it('hold the code of exactly the SDK clients their function calls, zod tree-shaken, and no devDependency', async () => {
    const handlers = readdirSync(join(ROOT, 'functions')).filter((file) => file.endsWith('.ts'));
    const result = await esbuild.build({
      entryPoints: handlers.map((file) => join(ROOT, 'functions', file)),
      outdir: join(scratch, 'functions'),
      bundle: true,
      platform: 'node',
      format: 'esm',
      mainFields: ['module', 'main'],
      write: false,
      metafile: true,
      logLevel: 'error',
      plugins,
    });

    const clients = Object.fromEntries(
      Object.values(result.metafile.outputs).map((output) => [
        output.entryPoint?.replace(/^.*functions\/(.+)\.ts$/, '$1'),
        [
          ...new Set(
            Object.entries(output.inputs)
              .filter(([, input]) => input.bytesInOutput > 0)
              .flatMap(([path]) => /@aws-sdk\/client-([a-z0-9-]+)\//.exec(path)?.[1] ?? []),
          ),
        ].sort(),
      ]),
    );
    expect(clients).toEqual(CLIENTS);

    // zod stays tree-shaken: `import * as z from 'zod'` lets esbuild keep only what is used, while
    // `import { z } from 'zod'` (the re-exported namespace object) keeps all of zod, its ~45
    // message locales included (217 KB of each minified bundle). Only English, zod's default
    // locale (set up by zod/v4/classic/external.js), may be bundled.
    const zodLocales = Object.values(result.metafile.outputs).flatMap((output) =>
      Object.entries(output.inputs)
        .filter(([, input]) => input.bytesInOutput > 0)
        .flatMap(([path]) => /node_modules\/zod\/v4\/locales\/([\w-]+)\.js$/.exec(path)?.[1] ?? []),
    );
    expect(zodLocales.length).toBeGreaterThan(0);
    expect(new Set(zodLocales)).toEqual(new Set(['en']));

    // No devDependency reaches a bundle; among them the AGPL-3.0 IAM simulator of the
    // integration tests (README "Tests"). The regex must see the packages the bundles do hold.
    const packageOf = (path: string) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path)?.[1];
    const bundled = new Set(
      Object.values(result.metafile.outputs).flatMap((output) =>
        Object.keys(output.inputs).flatMap((path) => packageOf(path) ?? []),
      ),
    );
    expect(bundled).toContain('@aws-sdk/client-ec2');
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    expect(Object.keys(manifest.devDependencies)).toContain('@cloud-copilot/iam-simulate');
    expect([...bundled].filter((name) => name in manifest.devDependencies)).toEqual([]);
  }, 120_000);
});
