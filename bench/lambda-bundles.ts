/**
 * Lambda bundle benchmark: `npm run bench:lambdas -- [--runs 10] [--before ceb0be4] [--only key,key]`.
 *
 * Bundles every function of this checkout ("after") and of the `--before` commit ("before", checked
 * out in a temporary git worktree) exactly as `serverless package` does (`bench/serverless-bundle.ts`),
 * then prints per function, side by side. Each side bundles its own dependencies: when the before
 * commit's package-lock.json differs from this checkout's, the worktree gets its own
 * `npm install` from that lock (npm's cache makes it quick); otherwise it shares this checkout's
 * node_modules. The figures:
 * - zip: the deployment package, in MB (10^6 bytes);
 * - init: module load in ms, the median over `--runs` of the wall time of
 *   `node -e "await import(bundle)"` minus the median of a bare `node -e ""`, both with the
 *   `NODE_OPTIONS` that checkout's stack sets and a Lambda-like environment (its provider environment,
 *   dummy credentials, `AWS_EXECUTION_ENV` and `LAMBDA_TASK_ROOT`, so the Tracer and the X-Ray SDK
 *   start in their Lambda mode);
 * - cpu: the same difference in CPU time (user + system, `process.cpuUsage()` of the child at its
 *   end), which load on a shared machine disturbs far less than wall time;
 * - the speed-up (before / after) and the targets of issue 12: without the EC2 client zip ≤ 0.6 MB
 *   and init ≤ 150 ms, with it zip ≤ 1.0 MB and init ≤ 300 ms, every function ≥ 2× faster.
 * Rounds are interleaved (bare node, then each function before and after), so load on a shared
 * machine hits both sides alike; the load average is printed with the figures. With
 * `DEBUG_SOURCEMAPS=true` the "after" side is the debug build (source map zipped,
 * `--enable-source-maps`). Figures, not assertions: the exit code only reports errors.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  type Bundle,
  bundleFunction,
  printServiceConfig,
  type ServiceConfig,
  zipBytes,
} from './serverless-bundle.js';
import { median } from './stats.js';

const REPO = resolve(fileURLToPath(new URL('..', import.meta.url)));

/** Issue 12 targets, by whether the bundle holds the EC2 client. */
const TARGETS = {
  withoutEc2: { zipMb: 0.6, initMs: 150 },
  withEc2: { zipMb: 1.0, initMs: 300 },
  speedUp: 2,
} as const;

/** One child run: wall time seen by the parent, CPU time the child reported, both in ms. */
interface Timing {
  wall: number;
  cpu: number;
}

interface Side {
  label: 'before' | 'after';
  dir: string;
  config: ServiceConfig;
  env: NodeJS.ProcessEnv;
  bundles: Map<string, Bundle>;
  bare: Timing[];
  imports: Map<string, Timing[]>;
}

/**
 * Environment variables as the template declares them, resolved for a local import: a `Ref` to one
 * of the template's parameters becomes that parameter's default (the handlers validate some, e.g.
 * ALERTING's allowed values); other CloudFormation intrinsics (a resource's `Ref`, `Fn::Sub`)
 * become placeholders.
 */
function resolveEnvironment(
  config: ServiceConfig,
  environment: Record<string, unknown> | undefined,
): Record<string, string> {
  const parameters = config.resources?.Parameters ?? {};
  const resolve = (key: string, value: unknown): string => {
    if (typeof value === 'string') return value;
    const ref = (value as { Ref?: unknown } | null)?.Ref;
    const fallback = typeof ref === 'string' ? parameters[ref]?.Default : undefined;
    return typeof fallback === 'string' ? fallback : `bench-placeholder-${key.toLowerCase()}`;
  };
  return Object.fromEntries(
    Object.entries(environment ?? {}).map(([key, value]) => [key, resolve(key, value)]),
  );
}

/**
 * Environment of a Lambda of `config`: the provider's variables (each function adds its own at
 * import, as Lambda merges `functions.<key>.environment` over them), dummy credentials and the
 * runtime's own variables.
 */
function lambdaEnv(config: ServiceConfig, taskRoot: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...resolveEnvironment(config, config.provider.environment),
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    AWS_SESSION_TOKEN: 'bench',
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
    LAMBDA_TASK_ROOT: taskRoot,
    // Lambda runs Node 22; this machine's Node 20 would add the SDK's end-of-support warning.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

/** The child's CPU time so far, printed as its last stdout line. */
const PRINT_CPU =
  'const { user, system } = process.cpuUsage(); process.stdout.write("\\n" + (user + system) / 1000);';

/** Times one `node --input-type=module -e <script>`. @throws Error when node fails. */
function timeNode(script: string, env: NodeJS.ProcessEnv): Timing {
  const code = `${script}\n${PRINT_CPU}`;
  const start = performance.now();
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', code], { env, encoding: 'utf8' });
  const wall = performance.now() - start;
  const cpu = Number(result.stdout.trim().split('\n').at(-1));
  if (result.status !== 0 || !Number.isFinite(cpu))
    throw new Error(`node -e ${code} failed:\n${result.stderr}`);
  return { wall, cpu };
}

async function prepareSide(label: Side['label'], dir: string, keys: string[] | undefined): Promise<Side> {
  process.stderr.write(`${label}: serverless print in ${dir}\n`);
  const config = printServiceConfig(dir);
  const out = mkdtempSync(join(tmpdir(), `bench-lambdas-${label}-`));
  const bundles = new Map<string, Bundle>();
  for (const key of keys ?? Object.keys(config.functions).sort()) {
    if (config.functions[key] === undefined) continue;
    bundles.set(key, await bundleFunction(dir, config, key, join(out, key)));
  }
  return { label, dir, config, env: lambdaEnv(config, out), bundles, bare: [], imports: new Map() };
}

function measure(sides: readonly Side[], keys: readonly string[], runs: number): void {
  for (let run = 1; run <= runs; run += 1) {
    process.stderr.write(`round ${run}/${runs} (load ${loadavg()[0]?.toFixed(1)})\n`);
    for (const side of sides) side.bare.push(timeNode('', side.env));
    for (const key of keys) {
      for (const side of sides) {
        const bundle = side.bundles.get(key);
        if (bundle === undefined) continue;
        const env = {
          ...side.env,
          ...resolveEnvironment(side.config, side.config.functions[key]?.environment),
          AWS_LAMBDA_FUNCTION_NAME: `golden-image-factory-dev-${key}`,
        };
        const timing = timeNode(`await import(${JSON.stringify(pathToFileURL(bundle.main).href)});`, env);
        side.imports.set(key, [...(side.imports.get(key) ?? []), timing]);
      }
    }
  }
}

const mb = (bundle: Bundle | undefined) => (bundle ? zipBytes(bundle.files) / 1e6 : undefined);
const bare = (side: Side, measure: keyof Timing) => median(side.bare.map((timing) => timing[measure]));
/** Median of a measure over the imports of `key` minus its median over the bare starts. */
const initMs = (side: Side, key: string, measure: keyof Timing) => {
  const timings = side.imports.get(key);
  return timings ? median(timings.map((timing) => timing[measure])) - bare(side, measure) : undefined;
};
const ratio = (before: number | undefined, after: number | undefined) =>
  before !== undefined && after ? before / after : undefined;
const cell = (value: number | undefined, digits: number, width = 7) =>
  (value === undefined ? '-' : value.toFixed(digits)).padStart(width);

function report(before: Side, after: Side, keys: readonly string[], runs: number, commit: string): void {
  const options = (side: Side) => `NODE_OPTIONS '${side.env.NODE_OPTIONS ?? ''}'`;
  const lines = [
    '',
    `before: ${commit} (${options(before)}); after: working tree (${options(after)})`,
    `init (wall) and cpu: median of ${runs} imports minus median of ${runs} bare node starts ` +
      `(bare wall before/after ${cell(bare(before, 'wall'), 0, 0)}/${cell(bare(after, 'wall'), 0, 0)} ms); ` +
      `load average ${loadavg()
        .map((value) => value.toFixed(1))
        .join(' ')}`,
    '',
    `${'function'.padEnd(24)}${'clients'.padEnd(12)}   zip MB before  after   init ms before  after  speed-up   cpu ms before  after  speed-up  targets`,
  ];
  for (const key of keys) {
    const bundle = after.bundles.get(key);
    const [zipBefore, zipAfter] = [mb(before.bundles.get(key)), mb(bundle)];
    const [initBefore, initAfter] = [initMs(before, key, 'wall'), initMs(after, key, 'wall')];
    const [cpuBefore, cpuAfter] = [initMs(before, key, 'cpu'), initMs(after, key, 'cpu')];
    const speedUp = ratio(initBefore, initAfter);
    const target = bundle?.clients.includes('ec2') ? TARGETS.withEc2 : TARGETS.withoutEc2;
    const misses = [
      ...(zipAfter !== undefined && zipAfter > target.zipMb ? [`zip>${target.zipMb}`] : []),
      ...(initAfter !== undefined && initAfter > target.initMs ? [`init>${target.initMs}`] : []),
      // A function the before commit did not have has no speed-up to meet (shown as '-').
      ...(before.bundles.has(key) && (speedUp === undefined || speedUp < TARGETS.speedUp)
        ? [`<${TARGETS.speedUp}x`]
        : []),
    ];
    lines.push(
      `${key.padEnd(24)}${(bundle?.clients.join(',') ?? '').padEnd(12)}` +
        `        ${cell(zipBefore, 2)}${cell(zipAfter, 2)}` +
        `          ${cell(initBefore, 0)}${cell(initAfter, 0)}${cell(speedUp, 1, 9)}x` +
        `         ${cell(cpuBefore, 0)}${cell(cpuAfter, 0)}${cell(ratio(cpuBefore, cpuAfter), 1, 9)}x` +
        `  ${misses.length ? misses.join(' ') : 'ok'}`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

/**
 * Give the worktree the before commit's own dependencies: a symlink to this checkout's node_modules
 * when both lock files are the same, else `npm install` from the commit's lock.
 * @throws Error when npm fails.
 */
function installDependencies(worktree: string, commit: string): void {
  const lock = (dir: string) => readFileSync(join(dir, 'package-lock.json'), 'utf8');
  if (lock(worktree) === lock(REPO)) {
    symlinkSync(join(REPO, 'node_modules'), join(worktree, 'node_modules'), 'dir');
    return;
  }
  process.stderr.write(`before: ${commit}'s package-lock.json differs: npm install in ${worktree}\n`);
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts'], {
    cwd: worktree,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '10' },
      before: { type: 'string', default: 'ceb0be4' },
      only: { type: 'string' },
    },
  });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1)
    throw new Error(`--runs must be a whole number ≥ 1, got ${values.runs}`);
  const commit = execFileSync('git', ['rev-parse', '--short', `${values.before}^{commit}`], {
    cwd: REPO,
    encoding: 'utf8',
  }).trim();
  const only = values.only?.split(',').map((key) => key.trim());
  const worktree = mkdtempSync(join(tmpdir(), 'bench-lambdas-worktree-'));
  execFileSync('git', ['worktree', 'add', '--detach', '--quiet', worktree, commit], { cwd: REPO });
  try {
    installDependencies(worktree, commit);
    const after = await prepareSide('after', REPO, only);
    const before = await prepareSide('before', worktree, only);
    const keys = [...after.bundles.keys()];
    measure([before, after], keys, runs);
    report(before, after, keys, runs, commit);
    for (const side of [before, after])
      rmSync(side.env.LAMBDA_TASK_ROOT as string, { recursive: true, force: true });
  } finally {
    execFileSync('git', ['worktree', 'remove', '--force', worktree], { cwd: REPO });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${(error as Error).message}\n`);
  process.exitCode = 1;
});
