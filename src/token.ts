/**
 * The one maker of random tokens: answer FIFO names and request proofs (client.ts), the daemon's control tokens,
 * admin request ids. Letters and digits only, so a token fits a file name and the request line's token field
 * ([A-Za-z0-9]{1,32}, protocol.ts). Web Crypto, not node:crypto: the CGI program imports no Node module under Bun.
 */
export function randomToken(bytes = 9): string {
  const b = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(b);
  return Buffer.from(b)
    .toString('base64')
    .replace(/[^A-Za-z0-9]/g, 'x');
}
