/** The QEMU command line of a factory VM (the local counterpart of an EC2 launch specification). */

export interface QemuArgsInput {
  id: string;
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

/** The QEMU command line (without the binary). Pure. */
export function buildQemuArgs(input: QemuArgsInput): string[] {
  return [
    '-name',
    `guest=${input.id}`,
    '-nodefaults',
    '-no-user-config',
    '-machine',
    'q35',
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
    // Boot disk (BIOS → GRUB in the MBR) and the NoCloud seed, both virtio-blk. The overlay of a
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
