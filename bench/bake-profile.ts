/**
 * Bake profile: where a local bake's wall time goes, from the files a bake leaves in its work
 * directory (`<state-dir>/builds/<execution>/`):
 *   - `packer.log`: Packer's output with `-timestamp-ui` (each line starts with an RFC 3339 time,
 *     see packer/command/build.go TimestampedUi), split into phases at Packer's own step messages;
 *   - `ansible-junit/*.xml`: ansible-core's builtin `junit` callback (enabled by local/bake.ts),
 *     one `<testcase>` per task and host with its duration in seconds.
 * Pure parsing here; bench/local-pipeline.ts prints medians over runs.
 */

/** One phase of a bake, in seconds of wall time. */
export interface BakePhase {
  phase: string;
  seconds: number;
}

/** One Ansible task's duration; `role` is the task name's `role : ` prefix, or `play`. */
export interface TaskTiming {
  role: string;
  task: string;
  seconds: number;
}

/**
 * Packer step messages that start a phase, in bake order; each is searched after the previous
 * one found, and a phase ends where the next found one starts (the last at the log's last line).
 * Messages: packer-plugin-qemu (step_copy_disk, step_resize_disk, step_run, step_shutdown,
 * step_convert_disk) and Packer core (communicator, provisioner and post-processor hooks).
 * `last: true`: the LAST match (the finalize step is the last shell provisioner of the build).
 */
const PHASE_MARKERS: ReadonlyArray<{ phase: string; pattern: RegExp; last?: boolean }> = [
  { phase: 'copy and resize the base disk', pattern: /==> qemu\.golden: (Copying|Resizing) hard drive/ },
  { phase: 'boot to SSH', pattern: /==> qemu\.golden: Starting VM/ },
  { phase: 'cloud-init wait', pattern: /==> qemu\.golden: Connected to SSH!/ },
  { phase: 'ansible', pattern: /==> qemu\.golden: Provisioning with Ansible/ },
  {
    phase: 'file uploads and probe install',
    pattern: /==> qemu\.golden: (Provisioning with shell|Uploading)/,
  },
  {
    phase: 'cleanup and validation',
    pattern: /==> qemu\.golden: Provisioning with shell script/,
    last: true,
  },
  { phase: 'shutdown', pattern: /==> qemu\.golden: Gracefully halting/ },
  { phase: 'image conversion', pattern: /==> qemu\.golden: Converting hard drive/ },
  { phase: 'manifest', pattern: /==> qemu\.golden: Running post-processor/ },
];

const TIMESTAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)): /;

/**
 * Phases of one bake from its Packer log (seconds of wall time, 1 s resolution). Pure.
 * @throws Error when the log has no timestamped lines (not written with -timestamp-ui).
 */
export function bakePhases(log: string): BakePhase[] {
  const lines = log.split('\n').flatMap((line) => {
    const match = TIMESTAMP.exec(line);
    return match ? [{ at: Date.parse(match[1] as string), text: line.slice(match[0].length) }] : [];
  });
  const first = lines[0];
  const last = lines.at(-1);
  if (!first || !last) throw new Error('no timestamped lines: was Packer run with -timestamp-ui?');
  const starts: Array<{ phase: string; at: number }> = [];
  let from = 0;
  for (const marker of PHASE_MARKERS) {
    const found = lines
      .map((line, index) => ({ line, index }))
      .filter(({ line, index }) => index >= from && marker.pattern.test(line.text));
    const hit = marker.last ? found.at(-1) : found[0];
    if (!hit) continue;
    starts.push({ phase: marker.phase, at: hit.line.at });
    from = hit.index + 1;
  }
  const phases: BakePhase[] = [
    { phase: 'packer start', seconds: ((starts[0]?.at ?? last.at) - first.at) / 1000 },
  ];
  starts.forEach((start, index) => {
    const end = starts[index + 1]?.at ?? last.at;
    phases.push({ phase: start.phase, seconds: (end - start.at) / 1000 });
  });
  return phases;
}

/** Task timings from the junit callback's XML (one file per playbook run). Pure. */
export function ansibleTasks(xml: string): TaskTiming[] {
  const tasks: TaskTiming[] = [];
  for (const match of xml.matchAll(/<testcase\b([^>]*)>/g)) {
    const attributes = Object.fromEntries(
      [...(match[1] as string).matchAll(/(\w+)="([^"]*)"/g)].map((pair) => [
        pair[1],
        unescapeXml(pair[2] as string),
      ]),
    ) as Record<string, string>;
    // `<play>: <role> : <task>` or `<play>: <task>` (JUNIT_HIDE_TASK_ARGUMENTS=True drops the args).
    const name = (attributes.name ?? '').replace(/^\[[^\]]*\]\s*/, '');
    const seconds = Number(attributes.time);
    if (!name || !Number.isFinite(seconds)) continue;
    const inRole = /^(?:.*?: )?(?<role>[^:]+?) : (?<task>.*)$/.exec(name)?.groups;
    const task = inRole?.task ?? name.replace(/^[^:]*: /, '');
    tasks.push({ role: inRole?.role ?? 'play', task, seconds });
  }
  return tasks;
}

/** Seconds per role, in order of first appearance. Pure. */
export function secondsPerRole(
  tasks: readonly TaskTiming[],
): Array<{ role: string; seconds: number; tasks: number }> {
  const roles = new Map<string, { role: string; seconds: number; tasks: number }>();
  for (const task of tasks) {
    const entry = roles.get(task.role) ?? { role: task.role, seconds: 0, tasks: 0 };
    entry.seconds += task.seconds;
    entry.tasks += 1;
    roles.set(task.role, entry);
  }
  return [...roles.values()];
}

function unescapeXml(text: string): string {
  return text
    .replaceAll('&quot;', '"')
    .replaceAll('&apos;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');
}
