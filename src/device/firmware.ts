/**
 * Firmware images as the device sees them. The catalog (firmware/) reads them
 * from firmware-sim/; the device only asks it questions through this port.
 */
export interface FirmwareImage {
  version: string;
  buildId: string;
  buildDate: string;
  /** Models this image runs on. */
  models: string[];
  features: {
    /** ACME client (seed: from 5.13.01). */
    acme: boolean;
  };
  /** File name of the image, e.g. "image-gvos-5.13.01.img". */
  file: string;
}

/** Where a box finds firmware images. */
export interface FirmwareCatalog {
  /** The image with this version, if any. */
  get(version: string): FirmwareImage | undefined;
  /** Find an image by version, file name or URL ending in the file name. */
  resolve(nameOrUrl: string): FirmwareImage | undefined;
  list(): FirmwareImage[];
}

/** Compare dotted versions numerically: -1, 0 or 1. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((n) => parseInt(n, 10));
  const pb = b.split('.').map((n) => parseInt(n, 10));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** The first firmware with the ACME client (seed: "Starting in software version 5.13.01"). */
// EMULATION: firmware images are JSON files in firmware-sim/; the ACME client from 5.13.01 (the seed's gate).
export const ACME_MIN_VERSION = '5.13.01';
