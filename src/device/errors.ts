/**
 * The one error vocabulary of the simulator. Every refusal of the device is a
 * DeviceError with a stable code; the CLI prints `% <message>`, the REST API
 * answers problem+json with the code. Messages say what is wrong and what to
 * do, in one line, without a trailing newline.
 */
export type DeviceErrorCode =
  | 'bad-input' // malformed value or option
  | 'not-found' // the named thing does not exist
  | 'exists' // the name is taken
  | 'in-use' // refused because something depends on it
  | 'permission-denied' // the session's role is too low
  | 'precondition' // a prerequisite is missing (firmware, name server, CA list...)
  | 'busy' // an operation is already running
  | 'unsupported' // the firmware or mode does not offer it
  | 'storage' // the state could not be written
  | 'internal';

/** HTTP status for each code (the REST edge uses it). */
export const HTTP_STATUS: Record<DeviceErrorCode, number> = {
  'bad-input': 400,
  'not-found': 404,
  exists: 409,
  'in-use': 409,
  'permission-denied': 403,
  precondition: 412,
  busy: 409,
  unsupported: 422,
  storage: 507,
  internal: 500,
};

export class DeviceError extends Error {
  constructor(
    readonly code: DeviceErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DeviceError';
  }
}

/** True for a DeviceError (also across module copies). */
export function isDeviceError(e: unknown): e is DeviceError {
  return e instanceof Error && e.name === 'DeviceError' && typeof (e as DeviceError).code === 'string';
}

/** Turn anything thrown into a DeviceError without losing a DeviceError's code. */
export function toDeviceError(e: unknown): DeviceError {
  if (isDeviceError(e)) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new DeviceError('internal', `Internal error: ${msg}`);
}
