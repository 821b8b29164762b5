/**
 * The http-01 key authorizations a box is answering right now. The ACME agent
 * adds and removes them; the web feature's http port serves them. It lives in
 * device/ so that neither feature imports the other.
 */
export class ChallengeTokens {
  private readonly tokens = new Map<string, string>();

  /** Serve `keyAuthorization` at /.well-known/acme-challenge/<token> until removed. */
  set(token: string, keyAuthorization: string): void {
    this.tokens.set(token, keyAuthorization);
  }

  get(token: string): string | undefined {
    return this.tokens.get(token);
  }

  delete(token: string): void {
    this.tokens.delete(token);
  }

  get size(): number {
    return this.tokens.size;
  }
}
