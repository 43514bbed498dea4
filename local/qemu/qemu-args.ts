/** The QEMU command line of a factory VM (the local counterpart of an EC2 launch specification). */
import { type Architecture, DEFAULT_ARCHITECTURE } from '#commons/core/architectures.js';

/** How QEMU runs one architecture on this (x86_64) host: always TCG, the emulator and board differ. */
export interface QemuArchitecture {
  /** The emulator binary (on PATH). */
  readonly binary: string;
  /** `-machine` board. */
  readonly machine: string;
  /** `-serial` device the guest kernel's console is on (`console=` in the base image's GRUB). */
  readonly console: string;
  /**
   * UEFI firmware as two pflash drives: `code` read-only (unit 0), and a per-VM writable copy of
   * `vars` (unit 1). Absent: the board's default firmware (SeaBIOS on x86_64).
   */
  readonly firmware?: { readonly code: string; readonly vars: string };
}

/**
 * Per architecture (one source for the local launcher; `packer/locals.pkr.hcl`
 * `qemu_architectures` holds the Packer copy, pinned to this one by a unit test):
 * - x86_64: `qemu-system-x86_64 -machine q35`, SeaBIOS, GRUB in the MBR gap, console ttyS0.
 * - arm64 (the local arm64 option, README "Architectures"): `qemu-system-aarch64 -machine virt`
 *   (Debian's qemu-system-arm) booted by AAVMF, the UEFI firmware of Debian's qemu-efi-aarch64
 *   (`dpkg -L qemu-efi-aarch64`: /usr/share/AAVMF/AAVMF_CODE.fd and AAVMF_VARS.fd, 64 MiB each,
 *   the size of the virt board's two flash banks); console on the board's PL011 UART, ttyAMA0.
 *   Every device below is a virtio PCI device, which virt has as well as q35.
 */
export const QEMU_ARCHITECTURES: Readonly<Record<Architecture, QemuArchitecture>> = {
  x86_64: { binary: 'qemu-system-x86_64', machine: 'q35', console: 'ttyS0' },
  arm64: {
    binary: 'qemu-system-aarch64',
    machine: 'virt',
    console: 'ttyAMA0',
    firmware: { code: '/usr/share/AAVMF/AAVMF_CODE.fd', vars: '/usr/share/AAVMF/AAVMF_VARS.fd' },
  },
};

export interface QemuArgsInput {
  id: string;
  /** Guest architecture; default x86_64. */
  architecture?: Architecture;
  /** The VM's writable copy of the firmware's variable store (architectures with `firmware` only). */
  efiVarsPath?: string;
  overlayPath: string;
  seedPath: string;
  qgaSocket: string;
  qmpSocket: string;
  consoleLog: string;
  pidFile: string;
  sshPort: number;
  memoryMiB: number;
  cpus: number;
}

/**
 * The QEMU command line (without the binary: `QEMU_ARCHITECTURES[architecture].binary`). Pure.
 * @throws Error when the architecture boots UEFI firmware and `efiVarsPath` is missing.
 */
export function buildQemuArgs(input: QemuArgsInput): string[] {
  const architecture = QEMU_ARCHITECTURES[input.architecture ?? DEFAULT_ARCHITECTURE];
  const firmware: string[] = [];
  if (architecture.firmware) {
    if (!input.efiVarsPath)
      throw new Error(`VM ${input.id}: ${architecture.machine} boots UEFI and needs efiVarsPath`);
    firmware.push(
      '-drive',
      `if=pflash,unit=0,format=raw,readonly=on,file=${architecture.firmware.code}`,
      '-drive',
      `if=pflash,unit=1,format=raw,file=${input.efiVarsPath}`,
    );
  }
  return [
    '-name',
    `guest=${input.id}`,
    '-nodefaults',
    '-no-user-config',
    '-machine',
    architecture.machine,
    ...firmware,
    '-accel',
    'tcg,thread=multi',
    '-cpu',
    'max',
    '-smp',
    String(input.cpus),
    '-m',
    String(input.memoryMiB),
    '-display',
    'none',
    // Boot disk (x86_64: BIOS → GRUB in the MBR; arm64: UEFI → GRUB on the EFI system partition)
    // and the NoCloud seed, both virtio-blk. The overlay of a
    // throwaway machine ignores guest flushes (QEMU `cache=unsafe`: only a host crash loses data;
    // a clean qemu exit leaves a complete file).
    '-drive',
    `file=${input.overlayPath},if=none,id=disk0,format=qcow2,discard=unmap,cache=unsafe`,
    '-device',
    'virtio-blk-pci,drive=disk0,bootindex=0',
    '-drive',
    `file=${input.seedPath},if=none,id=seed0,format=raw,readonly=on`,
    '-device',
    'virtio-blk-pci,drive=seed0',
    // User-mode networking (NAT through the host); host 127.0.0.1:sshPort → guest :22.
    '-netdev',
    `user,id=net0,hostfwd=tcp:127.0.0.1:${input.sshPort}-:22`,
    '-device',
    'virtio-net-pci,netdev=net0',
    // Entropy for first-boot key generation.
    '-device',
    'virtio-rng-pci',
    // Guest agent channel.
    '-device',
    'virtio-serial-pci,id=vser0',
    '-chardev',
    `socket,id=qga0,path=${input.qgaSocket},server=on,wait=off`,
    '-device',
    'virtserialport,bus=vser0.0,chardev=qga0,name=org.qemu.guest_agent.0',
    // Control and console.
    '-chardev',
    `socket,id=qmp0,path=${input.qmpSocket},server=on,wait=off`,
    '-mon',
    'chardev=qmp0,mode=control',
    '-chardev',
    `file,id=console0,path=${input.consoleLog}`,
    '-serial',
    'chardev:console0',
    '-pidfile',
    input.pidFile,
    '-daemonize',
  ];
}
