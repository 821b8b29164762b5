/**
 * The hardware facts of each product model that the show commands print
 * (`show version`, `show chassis`, `show card`) and the SNMP agent may use.
 * Facts, no behaviour; the same model always gives the same facts.
 *
 * Sources: real-device.md section 3 (a GigaVUE-HC2 running 5.16.00: target
 * arch `ppc`, target hw `gvhc2`, HW Type `HC2-Chassis`, chassis product code
 * `132-00AZ`, main board `cc1` `132-00AN`, 3614 MB of memory, 4 CPUs).
 */

/** What `show version`, `show chassis` and `show card` print about a model. */
export interface ModelHardware {
  /** `Target arch` of show version. */
  arch: string;
  /** `Target hw` and `Product hw` of show version (`gvhc2`). */
  targetHw: string;
  /** `HW Type` of the chassis in show chassis (`HC2-Chassis`). */
  chassisType: string;
  /** The chassis' product code, or `n/a` where the real one is not known. */
  chassisCode: string;
  /** The main board: its slot name, HW type and product code (`n/a` where not known). */
  board: { slot: string; type: string; code: string };
  /** Total system memory, MB. */
  memoryMb: number;
  cpus: number;
}

/** Facts found for real boxes. */
const KNOWN: Readonly<Record<string, ModelHardware>> = {
  'GigaVUE-HC2': {
    arch: 'ppc',
    targetHw: 'gvhc2',
    chassisType: 'HC2-Chassis',
    chassisCode: '132-00AZ',
    board: { slot: 'cc1', type: 'HC2-Main-Board', code: '132-00AN' },
    memoryMb: 3614,
    cpus: 4,
  },
};

/**
 * The hardware facts of `model`. For a model whose facts were not found:
 * EMULATION: arch x86_64, target hw `gv` + the model's short name in lower
 * case (`gvta200`), HW Type `<short>-Chassis`, 8192 MB, 4 CPUs, main board
 * slot `cc1`, and every product code `n/a` (never another part's number).
 */
export function modelHardware(model: string): ModelHardware {
  const known = KNOWN[model];
  if (known) return known;
  const short = model.replace(/^GigaVUE-/i, '');
  return {
    arch: 'x86_64',
    targetHw: `gv${short.toLowerCase()}`,
    chassisType: `${short}-Chassis`,
    chassisCode: 'n/a',
    board: { slot: 'cc1', type: `${short}-Main-Board`, code: 'n/a' },
    memoryMb: 8192,
    cpus: 4,
  };
}

/** Memory figures, MB, as `show version` prints them and the SNMP agent answers them. */
export interface MemoryUsage {
  usedMb: number;
  freeMb: number;
  totalMb: number;
}

/**
 * The memory of a box of this hardware (`show version`, and the SNMP agent).
 * EMULATION: a fixed 6.5 % of the total is in use (the HC2 sample's share).
 */
export function memoryUsage(hw: ModelHardware): MemoryUsage {
  const usedMb = Math.round(hw.memoryMb * 0.065);
  return { usedMb, freeMb: hw.memoryMb - usedMb, totalMb: hw.memoryMb };
}

/** The host ID as show version prints it: 12 hex digits, no colons (`5a13965639c8`). */
export function hostIdHex(hostId: string): string {
  return hostId.replace(/[^0-9a-fA-F]/g, '').toLowerCase();
}
