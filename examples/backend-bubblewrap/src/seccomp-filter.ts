/**
 * A seccomp program that makes two terminal ioctls fail with EPERM:
 * TIOCSTI (push characters into the terminal's input queue) and TIOCLINUX
 * (which can do the same on a Linux console). An agent that shares the user's
 * terminal could otherwise type commands into the shell that started it, to
 * run after the bottle exits (CVE-2017-5226). bwrap's usual answer is
 * --new-session, but that takes the terminal away from the agent as its
 * controlling terminal, so it no longer hears about window resizes; this
 * filter keeps the terminal and removes the injection.
 *
 * The program is classic BPF as seccomp(2) takes it, the format bwrap's
 * --seccomp reads: an array of { u16 code; u8 jt; u8 jf; u32 k } in host byte
 * order (little-endian on both supported architectures).
 */

const TIOCSTI = 0x5412;
const TIOCLINUX = 0x541c;

/** One system-call ABI a process on this machine can use, and ioctl's number in it. */
interface Abi {
  auditArch: number;
  ioctlNumbers: readonly number[];
}

// 32-bit compat ABIs are listed too: a process can switch to them, and a filter
// that only knew the native numbers would let their ioctl through.
const ABIS_BY_NODE_ARCH: Readonly<Record<string, readonly Abi[]>> = {
  x64: [
    // x86_64, and x32 (same audit arch, numbers with bit 30 set: x32's ioctl is 514).
    { auditArch: 0xc000003e, ioctlNumbers: [16, 0x40000000 | 514] },
    { auditArch: 0x40000003, ioctlNumbers: [54] }, // i386
  ],
  arm64: [
    { auditArch: 0xc00000b7, ioctlNumbers: [29] }, // aarch64
    { auditArch: 0x40000028, ioctlNumbers: [54] }, // arm (compat)
  ],
};

// struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6].
const OFFSET_NR = 0;
const OFFSET_ARCH = 4;
// The low half of args[1], ioctl's request. Only the low 32 bits count: the
// kernel truncates the request to an int, so comparing all 64 would let a
// request with junk in the high bits through (CVE-2019-10063 in Flatpak).
const OFFSET_ARG1_LOW = 24;

const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const RET_K = 0x06;
const RET_ALLOW = 0x7fff0000;
const RET_ERRNO = 0x00050000;
const EPERM = 1;
const ENOSYS = 38;

type Instruction =
  | { op: "load"; offset: number }
  | { op: "jump-if"; equals: number; to: string }
  | { op: "return"; value: number }
  | { op: "label"; name: string };

/** The filter for this machine's architecture, or undefined where it has none (then bwrap's --new-session is used). */
export function ttyInjectionFilter(nodeArch: string = process.arch): Buffer | undefined {
  const abis = ABIS_BY_NODE_ARCH[nodeArch];
  return abis ? assemble(program(abis)) : undefined;
}

function program(abis: readonly Abi[]): Instruction[] {
  const code: Instruction[] = [{ op: "load", offset: OFFSET_ARCH }];
  abis.forEach((_, i) => code.push({ op: "jump-if", equals: abis[i]!.auditArch, to: `abi-${i}` }));
  // An ABI this filter does not know could reach ioctl by a number it does not check.
  code.push({ op: "return", value: RET_ERRNO | ENOSYS });
  abis.forEach((abi, i) => {
    code.push({ op: "label", name: `abi-${i}` }, { op: "load", offset: OFFSET_NR });
    for (const nr of abi.ioctlNumbers) code.push({ op: "jump-if", equals: nr, to: "ioctl" });
    code.push({ op: "return", value: RET_ALLOW });
  });
  code.push(
    { op: "label", name: "ioctl" },
    { op: "load", offset: OFFSET_ARG1_LOW },
    { op: "jump-if", equals: TIOCSTI, to: "deny" },
    { op: "jump-if", equals: TIOCLINUX, to: "deny" },
    { op: "return", value: RET_ALLOW },
    { op: "label", name: "deny" },
    { op: "return", value: RET_ERRNO | EPERM },
  );
  return code;
}

/** Resolves labels into forward jump offsets and encodes the instructions. */
function assemble(code: Instruction[]): Buffer {
  const positions = new Map<string, number>();
  const real: Exclude<Instruction, { op: "label" }>[] = [];
  for (const instruction of code) {
    if (instruction.op === "label") positions.set(instruction.name, real.length);
    else real.push(instruction);
  }
  const out = Buffer.alloc(real.length * 8);
  real.forEach((instruction, index) => {
    const at = index * 8;
    if (instruction.op === "load") {
      out.writeUInt16LE(LD_W_ABS, at);
      out.writeUInt32LE(instruction.offset, at + 4);
    } else if (instruction.op === "return") {
      out.writeUInt16LE(RET_K, at);
      out.writeUInt32LE(instruction.value >>> 0, at + 4);
    } else {
      // BPF jumps are relative to the next instruction, forward only, at most 255.
      const offset = positions.get(instruction.to)! - (index + 1);
      if (offset < 0 || offset > 255) throw new Error(`seccomp jump to ${instruction.to} out of range: ${offset}`);
      out.writeUInt16LE(JEQ_K, at);
      out.writeUInt8(offset, at + 2); // jt: taken when equal
      out.writeUInt8(0, at + 3); // jf: fall through
      out.writeUInt32LE(instruction.equals >>> 0, at + 4);
    }
  });
  return out;
}
