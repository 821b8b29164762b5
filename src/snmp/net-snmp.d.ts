/**
 * The part of net-snmp (npm, 3.29.x; it ships no types) that src/snmp uses.
 * Only src/snmp imports net-snmp (DESIGN: one protocol library per folder).
 *
 * `Session.send` and the message fields below are internals of net-snmp,
 * typed here because net-snmp-sender.ts wraps `send` to set fields that the
 * public API cannot (v1 enterprise/generic-trap, v3 engine boots/time):
 * see the comment there.
 */
declare module 'net-snmp' {
  import type { EventEmitter } from 'node:events';

  export const Version1: 0;
  export const Version2c: 1;
  export const Version3: 3;

  export const ObjectType: {
    Integer: 2;
    OctetString: 4;
    OID: 6;
    TimeTicks: 67;
    Counter: 65;
    Gauge: 66;
    IpAddress: 64;
  };

  export const PduType: { Trap: 164; TrapV2: 167; InformRequest: 166 };

  export const SecurityLevel: { noAuthNoPriv: 1; authNoPriv: 2; authPriv: 3 };
  export const AuthProtocols: {
    none: '1';
    md5: '2';
    sha: '3';
    sha224: '4';
    sha256: '5';
    sha384: '6';
    sha512: '7';
  };
  export const PrivProtocols: { none: '1'; des: '2'; aes: '4'; aes256b: '6'; aes256r: '8' };

  export interface Varbind {
    oid: string;
    type: number;
    value: unknown;
  }

  export interface V3User {
    name: string;
    level: number;
    authProtocol?: string;
    authKey?: string;
    privProtocol?: string;
    privKey?: string;
  }

  export interface SessionOptions {
    version?: number;
    port?: number;
    trapPort?: number;
    retries?: number;
    timeout?: number;
    backoff?: number;
    transport?: 'udp4' | 'udp6';
    /** Local address the session's socket binds (net-snmp binds only when this or sourcePort is set). */
    sourceAddress?: string;
    sourcePort?: number;
    /** Hex (without 0x) or Buffer: the local engine ID a v3 session uses as authoritative sender. */
    engineID?: string | Buffer;
  }

  export interface NotifyOptions {
    upTime?: number;
    agentAddr?: string;
  }

  /** Internal: the message a request carries (net-snmp encodes it in send()). */
  export interface InternalMessage {
    version: number;
    pdu: {
      type: number;
      enterprise?: string;
      generic?: number;
      specific?: number;
      agentAddr?: string;
      upTime?: number;
    };
    msgSecurityParameters?: {
      msgAuthoritativeEngineID: Buffer;
      msgAuthoritativeEngineBoots: number;
      msgAuthoritativeEngineTime: number;
    };
  }

  export class Session extends EventEmitter {
    timeout: number;
    trap(
      typeOrOid: string | number,
      varbinds: Varbind[],
      options: NotifyOptions,
      cb: (err: Error | null) => void,
    ): this;
    inform(
      typeOrOid: string | number,
      varbinds: Varbind[],
      options: NotifyOptions,
      cb: (err: Error | null) => void,
    ): this;
    cancelRequests(err: Error): void;
    close(): this;
    /** Internal: the session's UDP socket (its errors never reach the session's listeners). */
    dgram: import('node:dgram').Socket;
    /** Internal (see the module comment). */
    send(req: { message: InternalMessage }, noWait?: boolean): this;
  }

  export function createSession(target: string, community: string, options: SessionOptions): Session;
  export function createV3Session(target: string, user: V3User, options: SessionOptions): Session;

  /** Internal: a PDU as net-snmp decodes it (agent.ts). */
  export interface AgentPdu {
    type: number;
    id: number;
    varbinds: Varbind[];
    nonRepeaters?: number;
    maxRepetitions?: number;
    errorStatus?: number;
    errorIndex?: number;
    getResponsePduForRequest(): AgentPdu;
  }

  /** Internal: a decoded message (net-snmp's Message) as agent.ts uses it. */
  export interface AgentMessage {
    version: number;
    community?: string;
    pdu: AgentPdu;
    msgSecurityParameters?: InternalMessage['msgSecurityParameters'];
    isReportable(): number | boolean | undefined;
    hasAuthentication(): number | boolean | undefined;
    createReportResponseMessage(
      engine: { engineID: Buffer; engineBoots: number; engineTime: number },
      context: string,
      errorType: string,
    ): { toBuffer(): Buffer };
    createResponseForRequest(pdu: AgentPdu): {
      msgSecurityParameters?: InternalMessage['msgSecurityParameters'];
      toBuffer(): Buffer;
    };
  }

  /**
   * Internal: Listener.processIncoming(buffer, authorizer, callback): decodes
   * and authorizes; returns the message, a report to send, or undefined
   * after calling back with the error. Throws on undecodable BER.
   */
  export type ProcessIncoming = (
    buffer: Buffer,
    authorizer: { users: V3User[]; communities: string[]; disableAuthorization: boolean },
    callback: (err: Error | null) => void,
  ) => AgentMessage | { original: AgentMessage; report: true; errorType: string } | undefined;

  /** Only as agent.ts uses it: an agent with no socket, to reach the Listener class. */
  export interface Agent {
    listener: { constructor: { processIncoming: ProcessIncoming } };
    close(): void;
  }
  export function createAgent(options: { sockets: [] }, callback: () => void): Agent;

  export class RequestTimedOutError extends Error {}
  export class ResponseInvalidError extends Error {}

  const snmp: {
    Version1: typeof Version1;
    Version2c: typeof Version2c;
    Version3: typeof Version3;
    ObjectType: typeof ObjectType;
    PduType: typeof PduType;
    SecurityLevel: typeof SecurityLevel;
    AuthProtocols: typeof AuthProtocols;
    PrivProtocols: typeof PrivProtocols;
    createSession: typeof createSession;
    createV3Session: typeof createV3Session;
    createAgent: typeof createAgent;
    RequestTimedOutError: typeof RequestTimedOutError;
    ResponseInvalidError: typeof ResponseInvalidError;
  };
  export default snmp;
}
