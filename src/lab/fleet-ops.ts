/**
 * The fleet ACME operations (GigaVUE-FM's global ACME configuration), apart
 * from lab.ts so that the CLI's argument parser, loaded by every `gvos-sim
 * lab` verb, does not load the lab and box stack with them.
 */
export const FLEET_OPS = ['issue', 'renew', 'revoke', 'clear'] as const;
/** One of FLEET_OPS. */
export type FleetOp = (typeof FLEET_OPS)[number];
