/**
 * Bundle a function the way `serverless package` does, without packaging the whole stack.
 *
 * - {@link printServiceConfig}: the resolved service configuration of a checkout
 *   (`serverless print --format json`), so `${...}` variables, stage params, `${file()}` includes and
 *   the `DEBUG_SOURCEMAPS` switch resolve exactly as they do for a deploy.
 * - {@link esbuildOptions}: the esbuild options serverless-esbuild 1.57 derives from
 *   `custom.esbuild` (its defaults, then its own keys removed, `exclude` added to `external`,
 *   `outputFileExtension` → `outExtension`); source: `node_modules/serverless-esbuild/dist/index.js`
 *   (`DEFAULT_BUILD_OPTIONS`) and `dist/bundle.js` (`bundle()`),
 *   https://github.com/floydspace/serverless-esbuild/blob/master/src/bundle.ts
 * - {@link zipBytes}: the size of the zip serverless-esbuild writes with archiver 5 (one entry per
 *   output file, no extra fields, DEFLATE at level 1: compress-commons 4 defaults `zlib.level` to
 *   `ZLIB_BEST_SPEED`, `zip-archive-output-stream.js`): local header 30 B + name, a 16 B data
 *   descriptor (archiver streams), central directory entry 46 B + name, end record 22 B (PKWARE
 *   APPNOTE 4.3.7, 4.3.9, 4.3.12, 4.3.16: https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT).
 *   Checked against archiver on a 3 MB bundle and its 6 MB map: 1 766 381 B both ways.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import * as esbuild from 'esbuild';

/** The part of `serverless print` this benchmark reads. */
export interface ServiceConfig {
  provider: { environment?: Record<string, unknown> };
  /** The template's own parameters (`serverless print` resolves their defaults). */
  resources?: { Parameters?: Record<string, { Default?: unknown }> };
  custom?: { esbuild?: Record<string, unknown> };
  functions: Record<string, { handler: string; environment?: Record<string, unknown> }>;
}

/** serverless-esbuild's defaults (`DEFAULT_BUILD_OPTIONS`) that reach esbuild. */
const PLUGIN_DEFAULTS = {
  bundle: true,
  target: 'node18',
  external: [],
  exclude: ['aws-sdk'],
  platform: 'node',
  outputFileExtension: '.js',
};

/** Keys serverless-esbuild reads itself and removes before calling esbuild (`bundle()`). */
const PLUGIN_KEYS = [
  'concurrency',
  'zipConcurrency',
  'exclude',
  'nativeZip',
  'packager',
  'packagePath',
  'watch',
  'keepOutputDirectory',
  'packagerOptions',
  'installExtraArgs',
  'outputFileExtension',
  'outputBuildFolder',
  'outputWorkFolder',
  'nodeExternals',
  'skipBuild',
  'skipRebuild',
  'skipBuildExcludeFns',
  'stripEntryResolveExtensions',
  'disposeContext',
];

/**
 * `serverless print --format json` in `dir` (stage dev, us-east-1: the `package` stage's).
 * @throws Error with serverless' output when the configuration does not resolve.
 */
export function printServiceConfig(dir: string, env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  const args = ['--no-install', 'serverless', 'print', '--format', 'json', '--stage', 'dev'];
  try {
    const json = execFileSync('npx', [...args, '--region', 'us-east-1'], {
      cwd: dir,
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    });
    return JSON.parse(json) as ServiceConfig;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`serverless print failed in ${dir}:\n${stdout ?? ''}${stderr ?? ''}`);
  }
}

/** esbuild options serverless-esbuild uses for `entry`, writing into `outdir`. */
export function esbuildOptions(
  dir: string,
  custom: Record<string, unknown>,
  entry: string,
  outdir: string,
): esbuild.BuildOptions {
  if (typeof custom.config === 'string')
    throw new Error('custom.esbuild.config (a JS config file) is not supported by this benchmark');
  const merged: Record<string, unknown> = {
    ...PLUGIN_DEFAULTS,
    ...custom,
    plugins: plugins(dir, custom.plugins),
  };
  const options = Object.fromEntries(Object.entries(merged).filter(([key]) => !PLUGIN_KEYS.includes(key)));
  const exclude = (merged.exclude as string[] | undefined) ?? [];
  const extension = merged.outputFileExtension as string;
  return {
    ...options,
    external: [
      ...((merged.external as string[] | undefined) ?? []),
      ...(exclude.includes('*') ? [] : exclude),
    ],
    ...(extension === '.js' ? {} : { outExtension: { '.js': extension } }),
    entryPoints: [entry],
    outdir,
    metafile: true,
    logLevel: 'error',
  };
}

/**
 * The esbuild plugins of `custom.esbuild.plugins`: an array, or the path of a module (relative to
 * the service) exporting an array or a function of the serverless instance (not supported here).
 */
function plugins(dir: string, value: unknown): esbuild.Plugin[] {
  if (value === undefined) return [];
  if (Array.isArray(value)) return value as esbuild.Plugin[];
  const loaded = createRequire(join(dir, 'package.json'))(join(dir, String(value))) as unknown;
  if (!Array.isArray(loaded)) throw new Error(`custom.esbuild.plugins ${String(value)} exports no array`);
  return loaded as esbuild.Plugin[];
}

/** The source file of a handler such as `functions/prepare-build.handler` (`.ts`, then `.js`). */
export function handlerEntry(dir: string, handler: string): string {
  const base = handler.slice(0, handler.lastIndexOf('.'));
  const found = ['.ts', '.js']
    .map((extension) => base + extension)
    .find((file) => existsSync(join(dir, file)));
  if (found === undefined) throw new Error(`no source file for handler ${handler} in ${dir}`);
  return found;
}

/** A function bundled into `outdir`, with the SDK clients its bundle contains. */
export interface Bundle {
  /** Absolute path of the bundle the handler is loaded from. */
  main: string;
  /** Every output file, as zipped: path relative to the zip root → bytes. */
  files: Map<string, Buffer>;
  /** `@aws-sdk/client-<name>` packages with code in the bundle, e.g. `['ec2', 'ssm']`. */
  clients: string[];
}

/** Bundle one function of the checkout `dir` into `outdir` as serverless-esbuild would. */
export async function bundleFunction(
  dir: string,
  config: ServiceConfig,
  key: string,
  outdir: string,
): Promise<Bundle> {
  const fn = config.functions[key];
  if (fn === undefined) throw new Error(`function ${key} is not in the service configuration`);
  const entry = handlerEntry(dir, fn.handler);
  const options = esbuildOptions(dir, config.custom?.esbuild ?? {}, entry, join(outdir, entry, '..'));
  const result = await esbuild.build({ ...options, absWorkingDir: dir });
  const inputs = Object.values(result.metafile?.outputs ?? {}).flatMap((output) =>
    Object.entries(output.inputs).filter(([, input]) => input.bytesInOutput > 0),
  );
  const clients = new Set(
    inputs.flatMap(([path]) => /@aws-sdk\/client-([a-z0-9-]+)\//.exec(path)?.[1] ?? []),
  );
  const files = new Map(listFiles(outdir).map((file) => [relative(outdir, file), readFileSync(file)]));
  const main = [...files.keys()].find((file) => !file.endsWith('.map'));
  if (main === undefined) throw new Error(`esbuild wrote no bundle for ${key}`);
  return { main: join(outdir, main), files, clients: [...clients].sort() };
}

/** Size in bytes of the zip holding `files` (see the module comment for the layout). */
export function zipBytes(files: ReadonlyMap<string, Buffer>): number {
  let bytes = 22;
  for (const [name, content] of files) {
    const nameBytes = Buffer.byteLength(name);
    bytes += 30 + nameBytes + deflateRawSync(content, { level: 1 }).length + 16 + 46 + nameBytes;
  }
  return bytes;
}

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}
