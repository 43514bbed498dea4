import { describe, expect, it } from 'vitest';
import { ansibleTasks, bakePhases, secondsPerRole } from '../../../bench/bake-profile.js';

/** Lines as Packer writes them with -timestamp-ui (packer/command/build.go TimestampedUi). */
const LOG = [
  '2026-11-30T11:11:50Z: qemu.golden: output will be in this color.',
  '2026-11-30T11:11:52Z: ==> qemu.golden: Copying hard drive...',
  '2026-11-30T11:11:58Z: ==> qemu.golden: Resizing hard drive...',
  '2026-11-30T11:12:00Z: ==> qemu.golden: Starting VM, booting disk image',
  '2026-11-30T11:12:09Z: ==> qemu.golden: Waiting for SSH to become available...',
  '2026-11-30T11:12:40Z: ==> qemu.golden: Connected to SSH!',
  '2026-11-30T11:12:40Z: ==> qemu.golden: Provisioning with shell script: /tmp/packer-shell1',
  '2026-11-30T11:13:00Z: ==> qemu.golden: Provisioning with Ansible...',
  '2026-11-30T11:13:01Z:     qemu.golden: TASK [baseline : Refresh the apt package index] ***',
  '2026-11-30T11:16:00Z: ==> qemu.golden: Provisioning with shell script: /tmp/packer-shell2',
  '2026-11-30T11:16:02Z: ==> qemu.golden: Uploading /work/main/packer/scripts/ => /tmp/image-factory',
  '2026-11-30T11:16:05Z: ==> qemu.golden: Provisioning with shell script: /tmp/packer-shell3',
  '2026-11-30T11:16:10Z: ==> qemu.golden: Provisioning with shell script: /tmp/packer-shell4',
  '2026-11-30T11:16:30Z: ==> qemu.golden: Gracefully halting virtual machine...',
  '2026-11-30T11:16:50Z: ==> qemu.golden: Running post-processor:  (type manifest)',
  "2026-11-30T11:16:51Z: Build 'qemu.golden' finished after 5 minutes 1 second.",
].join('\n');

describe('bakePhases', () => {
  it('splits a timestamped Packer log into phases that add up to the bake', () => {
    // Act
    const phases = bakePhases(LOG);

    // Assess
    expect(phases).toEqual([
      { phase: 'packer start', seconds: 2 },
      { phase: 'copy and resize the base disk', seconds: 8 },
      { phase: 'boot to SSH', seconds: 40 },
      { phase: 'cloud-init wait', seconds: 20 },
      { phase: 'ansible', seconds: 180 },
      { phase: 'file uploads and probe install', seconds: 10 },
      { phase: 'cleanup and validation', seconds: 20 },
      { phase: 'shutdown', seconds: 20 },
      { phase: 'manifest', seconds: 1 },
    ]);
    expect(phases.reduce((sum, phase) => sum + phase.seconds, 0)).toBe(301);
  });

  it('refuses a log without timestamps', () => {
    expect(() => bakePhases('==> qemu.golden: Starting VM')).toThrow(/-timestamp-ui/);
  });
});

describe('ansibleTasks', () => {
  it('reads task durations from the junit callback and sums them per role', () => {
    // Prepare: the shape ansible-core's builtin junit callback writes (`<play>: [<role> : ]<task>`).
    const xml = `<?xml version="1.0" ?>
<testsuites><testsuite name="playbook" tests="3">
  <testcase classname="playbook.yml" name="Bake the golden web image: Gathering Facts" time="4.500"/>
  <testcase classname="playbook.yml" name="Bake the golden web image: baseline : Install the packages &amp; tools" time="61.250"/>
  <testcase classname="playbook.yml" name="[default] Bake the golden web image: baseline : Enable chrony" time="8.000"><skipped/></testcase>
</testsuite></testsuites>`;

    // Act
    const tasks = ansibleTasks(xml);

    // Assess
    expect(tasks).toEqual([
      { role: 'play', task: 'Gathering Facts', seconds: 4.5 },
      { role: 'baseline', task: 'Install the packages & tools', seconds: 61.25 },
      { role: 'baseline', task: 'Enable chrony', seconds: 8 },
    ]);
    expect(secondsPerRole(tasks)).toEqual([
      { role: 'play', seconds: 4.5, tasks: 1 },
      { role: 'baseline', seconds: 69.25, tasks: 2 },
    ]);
  });
});
