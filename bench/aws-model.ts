/**
 * AWS wall-clock and cost model of one build: `npm run bench:aws-model`.
 *
 * Reads the ASL (`statemachines/definition.ts`: the states entered, Wait seconds, poll bounds), the
 * deployment (`serverless print`: Lambda memory, handler poll bounds, Fargate task size, test
 * instance type, watch schedule; `packer/variables.pkr.hcl`: builder instance type and volume size)
 * and the sourced step durations and prices of `bench/aws-model-inputs.ts`. Prints, for a fast,
 * an expected and a slow run: event → promoted time (git push, new base image), state transitions
 * and cost per build; then the effect of each poll setting and the first online check's wait that
 * the model suggests. Expected values average over the boot-to-Online distribution.
 * Figures, not assertions.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { COST_ITEMS } from '#commons/core/build-cost.js';
import { HANDLER_POLL_BOUNDS } from '#commons/core/poll-bounds.js';
import { loadDefinition, type PollLoop, pollLoops } from '#statemachines/definition.js';
import {
  BAKE_PHASES,
  LAMBDA_INIT,
  LAMBDA_TASKS,
  ONLINE_AFTER,
  PRICES,
  PROBE_RUN,
  PUSH_TRIGGER,
  SCENARIOS,
  type Scenario,
} from './aws-model-inputs.js';
import { aslWaitSeconds } from './aws-model-path.js';
import { type Deployment, evaluate, expectation, type Run } from './aws-model-run.js';
import { printServiceConfig } from './serverless-bundle.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));

function readDeployment(): Deployment {
  const config = printServiceConfig(REPO) as unknown as {
    provider: { memorySize: number; environment: Record<string, string> };
    params: { default: Record<string, string> };
    resources: { Resources: { PackerTaskDefinition: { Properties: Record<string, unknown> } } };
  };
  const env = config.provider.environment;
  const task = config.resources.Resources.PackerTaskDefinition.Properties;
  const hcl = readFileSync(`${REPO}/packer/variables.pkr.hcl`, 'utf8');
  const hclDefault = (name: string) => {
    const value = new RegExp(`variable "${name}" \\{[^}]*?default\\s*=\\s*"?([\\w.-]+)"?`).exec(hcl)?.[1];
    if (value === undefined) throw new Error(`packer/variables.pkr.hcl: no default for ${name}`);
    return value;
  };
  const schedule = /^rate\((\d+) minutes?\)$/.exec(config.params.default.watchSchedule ?? '')?.[1];
  if (schedule === undefined)
    throw new Error(`watchSchedule is not rate(N minutes): ${config.params.default.watchSchedule}`);
  return {
    lambdaMemoryGb: config.provider.memorySize / 1024,
    // Not set in serverless.yml: the handlers use the defaults (core/poll-bounds.ts).
    handlerBounds: { ...HANDLER_POLL_BOUNDS },
    testInstanceType: env.TEST_INSTANCE_TYPE as string,
    builderInstanceType: hclDefault('aws_instance_type'),
    volumeGb: Number(hclDefault('root_volume_size_gb')),
    fargate: {
      vcpu: Number(task.Cpu) / 1024,
      gb: Number(task.Memory) / 1024,
      arch: (task.RuntimePlatform as { CpuArchitecture: 'X86_64' | 'ARM64' }).CpuArchitecture,
    },
    watchMinutes: Number(schedule),
  };
}

const fmt = (value: number, digits = 0) => value.toFixed(digits);
const minutes = (seconds: number) => `${fmt(seconds / 60, 1)} min`;
const usd = (value: number) => `$${value.toFixed(5)}`;

async function main(): Promise<void> {
  const d = readDeployment();
  const definition = loadDefinition();
  const loops = pollLoops();
  const aslWaits = aslWaitSeconds(definition);
  const out: string[] = ['AWS model of one build (us-east-1 on-demand prices)', ''];
  out.push('ASL poll loops (statemachines/image-factory.asl.yaml):');
  for (const loop of Object.values(loops)) {
    out.push(
      `  ${loop.check}: first wait ${loop.firstWait ?? '-'} ${loop.firstWaitSeconds} s, then ${loop.wait} ${loop.waitSeconds} s; bound ${loop.maxAttempts} (ASL), ${d.handlerBounds[loop.check]} (handler)`,
    );
  }
  out.push(
    `deployment: Lambda ${d.lambdaMemoryGb * 1024} MB arm64; Fargate ${d.fargate.vcpu} vCPU ${d.fargate.gb} GB ${d.fargate.arch}; builder ${d.builderInstanceType}, test ${d.testInstanceType}, ${d.volumeGb} GiB gp3; watcher every ${d.watchMinutes} min`,
    '',
    'prices:',
    ...Object.values(PRICES).map((price) => `  ${price.source}`),
    '',
    'durations (s, low/expected/high):',
    ...Object.entries({
      ...BAKE_PHASES,
      LambdaInit: LAMBDA_INIT,
      ...LAMBDA_TASKS,
      ProbeRun: PROBE_RUN,
      PushTrigger: PUSH_TRIGGER,
    }).map(
      ([name, value]) => `  ${name.padEnd(22)} ${value.low}/${value.expected}/${value.high}  ${value.source}`,
    ),
    `  ${'boot to SSM Online'.padEnd(22)} ${ONLINE_AFTER.value.map(({ seconds, weight }) => `${seconds} s (${weight * 100}%)`).join(', ')}  ${ONLINE_AFTER.source}`,
    '',
  );

  out.push(`${''.padEnd(40)}${SCENARIOS.map((s) => s.padStart(12)).join('')}`);
  const columns = await Promise.all(
    SCENARIOS.map(async (scenario) => {
      if (scenario === 'expected') return expectation(scenario, aslWaits, loops, d);
      const online = ONLINE_AFTER.value.map(({ seconds }) => seconds);
      const run = await evaluate(
        scenario,
        scenario === 'low' ? Math.min(...online) : Math.max(...online),
        aslWaits,
        loops,
        d,
      );
      return run && ((measure: (run: Run) => number) => measure(run));
    }),
  );
  const row = (label: string, measure: (run: Run) => number, show: (value: number) => string) =>
    out.push(
      `${label.padEnd(40)}${columns.map((column) => (column ? show(column(measure)) : 'fails').padStart(12)).join('')}`,
    );
  const trigger = (s: Scenario) => PUSH_TRIGGER[s];
  row('git push → promoted', (r) => r.t.promoted, minutes);
  const watcher: Record<Scenario, number> = { low: 0, expected: d.watchMinutes / 2, high: d.watchMinutes };
  out.push(
    `${'new base AMI → promoted'.padEnd(40)}${columns
      .map((column, i) => {
        const scenario = SCENARIOS[i] as Scenario;
        return (column ? minutes(column((r) => r.t.promoted) + watcher[scenario] * 60) : 'fails').padStart(
          12,
        );
      })
      .join('')}`,
    `  (git push: plus ${SCENARIOS.map(trigger).join('/')} s of webhook delivery; base AMI: plus ${Object.values(watcher).join('/')} min until the watcher (every ${d.watchMinutes} min) sees it)`,
  );
  row('execution (to PipelineSucceeded)', (r) => r.t.end, minutes);
  row(
    'state transitions',
    (r) => r.t.transitions,
    (v) => fmt(v, 1),
  );
  for (const check of Object.keys(loops)) {
    row(
      `${check}: checks too early`,
      (r) => r.polls[check]?.failed ?? 0,
      (v) => fmt(v, 1),
    );
  }
  for (const item of [...COST_ITEMS, 'total']) {
    row(`cost: ${item}`, (r) => r.cost[item] as number, usd);
  }
  out.push(
    '  (not per build: AMI snapshot storage, $0.05 per GB-month while retained; CloudWatch Logs and X-Ray)',
    '',
  );

  out.push(...(await pollTables(loops, aslWaits, d)));
  process.stdout.write(`${out.join('\n')}\n`);
}

/** The effect of each poll setting, and the suggested first wait before the online check. */
async function pollTables(
  loops: Record<string, PollLoop>,
  aslWaits: Record<string, number>,
  d: Deployment,
): Promise<string[]> {
  const out: string[] = ['poll settings (expected durations, averaged over boot-to-Online):'];
  const columns = ['too early', 'seen after', 'gives up', 'promoted', 'transitions', 'cost/build'];
  for (const loop of Object.values(loops)) {
    const bound = Math.min(loop.maxAttempts, d.handlerBounds[loop.check] ?? Infinity);
    const check = (LAMBDA_TASKS[loop.check] ?? LAMBDA_INIT).expected;
    const line = async (label: string, waits: Record<string, number>) => {
      const first = loop.firstWait === undefined ? 0 : (waits[loop.firstWait] as number);
      const givesUp = first + (bound - 1) * (check + (waits[loop.wait] as number)) + check;
      const e = await expectation('expected', waits, loops, d);
      const cells = e
        ? [
            fmt(
              e((r) => r.polls[loop.check]?.failed ?? 0),
              1,
            ),
            `${fmt(e((r) => r.polls[loop.check]?.seen ?? 0))} s`,
            `${fmt(givesUp)} s`,
            minutes(e((r) => r.t.promoted)),
            fmt(
              e((r) => r.t.transitions),
              1,
            ),
            usd(e((r) => r.cost.total as number)),
          ]
        : ['fails', '-', `${fmt(givesUp)} s`, '-', '-', '-'];
      return `${label.padEnd(40)}${cells.map((cell) => cell.padStart(12)).join('')}`;
    };
    out.push(
      '',
      `${loop.check}: bound min(${loop.maxAttempts} ASL, ${d.handlerBounds[loop.check]} handler) checks`,
      `${'setting'.padEnd(40)}${columns.map((column) => column.padStart(12)).join('')}`,
    );
    for (const seconds of [5, 10, 15, 30, 60])
      out.push(await line(`${loop.wait} = ${seconds} s`, { ...aslWaits, [loop.wait]: seconds }));
    if (loop.firstWait !== undefined && loop.firstWait !== loop.wait) {
      for (const seconds of [0, 15, 30, 45, 60, 90])
        out.push(await line(`${loop.firstWait} = ${seconds} s`, { ...aslWaits, [loop.firstWait]: seconds }));
    }
  }
  const online = loops.CheckInstanceOnline;
  if (online?.firstWait === undefined || online.firstWait === online.wait)
    return [...out, '', 'no first wait before CheckInstanceOnline in the ASL'];
  // Suggestion: the longest first wait that does not see Online later on average than no wait.
  const seen = async (seconds: number) =>
    (await expectation('expected', { ...aslWaits, [online.firstWait as string]: seconds }, loops, d))?.(
      (r) => r.polls.CheckInstanceOnline?.seen ?? 0,
    );
  const baseline = (await seen(0)) as number;
  let suggested = 0;
  for (let seconds = 5; seconds <= Math.max(...ONLINE_AFTER.value.map((o) => o.seconds)); seconds += 5) {
    const value = await seen(seconds);
    if (value !== undefined && value <= baseline) suggested = seconds;
  }
  out.push(
    '',
    `suggested ${online.firstWait}: ${suggested} s (the longest first wait after which Online is seen no later than with none); the ASL has ${online.firstWaitSeconds} s`,
  );
  return out;
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${(error as Error).stack ?? error}\n`);
  process.exitCode = 1;
});
