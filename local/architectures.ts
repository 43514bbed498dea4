/**
 * Which architectures the local backend bakes, and how long it waits for each. Pure: no filesystem.
 *
 * The local backend runs on an x86_64 host with TCG only. x86_64 is the default and all CI runs.
 * arm64 is an option (README "Architectures", "Locally"): the same pipeline under
 * `qemu-system-aarch64 -machine virt` with UEFI firmware, every instruction of the guest emulated,
 * so a base image takes about ten minutes once and a run about twice an x86_64 one (README
 * "Architectures", measured), much more on a loaded machine. It needs Debian packages the default
 * setup does not install. Both are why it is opt-in:
 * `FACTORY_LOCAL_ARM64=1` makes `scripts/setup.sh` install those packages and lets the local
 * backend resolve, bake and boot arm64 ({@link LOCAL_ARM64_OPT_IN}).
 */
import {
  ARCHITECTURES,
  type Architecture,
  type ArchitectureSettings,
  architecturesOf,
  DEFAULT_ARCHITECTURE,
  isArchitecture,
  parseArchitectures,
} from '#commons/core/architectures.js';
import { InvalidInput } from '#commons/errors.js';

/** The environment variable that opts in to local arm64 builds (value `1`; also read by scripts/setup.sh). */
export const LOCAL_ARM64_OPT_IN = 'FACTORY_LOCAL_ARM64';

/** The architectures the local backend builds with this environment: x86_64, and arm64 when opted in. */
export function localArchitectures(
  env: Readonly<Record<string, string | undefined>>,
): readonly Architecture[] {
  return env[LOCAL_ARM64_OPT_IN] === '1' ? ARCHITECTURES : [DEFAULT_ARCHITECTURE];
}

/**
 * Refuses an architecture the local backend does not build with this environment.
 * @throws InvalidInput naming the opt-in when arm64 is asked for without it.
 */
export function assertLocalArchitecture(architecture: Architecture, enabled: readonly Architecture[]): void {
  if (enabled.includes(architecture)) return;
  throw new InvalidInput(
    `the local backend bakes ${architecture} only when opted in: set ${LOCAL_ARM64_OPT_IN}=1 ` +
      `(emulated by qemu-system-aarch64: about ten minutes for the base image once, then runs about twice as long as x86_64; README "Architectures")`,
  );
}

/**
 * What one local run builds, and what the pipelines declare for PrepareBuild (which refuses an
 * undeclared architecture, as on AWS).
 * - `ARCHITECTURES` (same syntax as the stage parameter `architectures`) declares, when set.
 * - `--architecture` picks one; without `ARCHITECTURES` it is the run's declaration too (a local run
 *   is a manual start that names what it wants).
 * - Without `--architecture` the run builds every architecture the pipeline declares, in
 *   {@link ARCHITECTURES} order (x86_64 first), one execution each, as a trigger starts them.
 * @throws Error for an unknown `--architecture` or a malformed `ARCHITECTURES` (message names it).
 */
export function chooseArchitectures(
  pipeline: string,
  flag: string | undefined,
  declaredSetting: string | undefined,
): { architectures: readonly Architecture[]; settings: ArchitectureSettings } {
  if (flag !== undefined && !isArchitecture(flag))
    throw new Error(`--architecture must be one of ${ARCHITECTURES.join(', ')}, got ${flag}`);
  let settings: ArchitectureSettings;
  if (declaredSetting !== undefined && declaredSetting !== '') {
    try {
      settings = parseArchitectures(declaredSetting);
    } catch (error) {
      throw new Error(`environment variable ARCHITECTURES ${(error as Error).message}`);
    }
  } else {
    settings = flag ? { [pipeline]: [flag] } : {};
  }
  return { architectures: flag ? [flag] : architecturesOf(settings, pipeline), settings };
}

/** How long the local runner waits for a machine of one architecture (seconds). */
export interface LocalWaits {
  /**
   * Between online checks. The ASL's attempt bound times this is how long a boot may take
   * (`local/poll-bounds.ts`); each check waits inside the Task, so it stays under the ASL's
   * `TimeoutSeconds: 60` of CheckInstanceOnline.
   */
  readonly onlinePollSeconds: number;
  /** Between probe result checks (same bound; same 60 s Task timeout). */
  readonly pollSeconds: number;
  /** How long the probe suite may run on the test machine. */
  readonly probeTimeoutSeconds: number;
  /** Clone check: the second machine's guest agent, and then its first boot, each. */
  readonly cloneBootSeconds: number;
}

/**
 * Per architecture. x86_64: the local runner's values from before arm64 (a TCG boot takes 30–60 s
 * on an idle 2-core machine, a few minutes on a busy one). arm64 (README "Architectures",
 * measured): the test instance reached its guest agent in 77 s and the probe took 53 s with a load
 * average of 1–3, but a boot took about 8 minutes to a login prompt at a load average near 9; 39
 * checks 50 s apart give it half an hour, the probe as long.
 */
export const LOCAL_WAITS: Readonly<Record<Architecture, LocalWaits>> = {
  x86_64: { onlinePollSeconds: 10, pollSeconds: 5, probeTimeoutSeconds: 600, cloneBootSeconds: 360 },
  arm64: { onlinePollSeconds: 50, pollSeconds: 30, probeTimeoutSeconds: 1800, cloneBootSeconds: 1800 },
};
