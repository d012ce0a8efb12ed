/**
 * The one maker of random tokens: answer FIFO names and request proofs (client.ts), the daemon's control tokens,
 * admin request ids. Letters and digits only, so a token fits a file name and the request line's token field
 * ([A-Za-z0-9]{1,32}, protocol.ts).
 */

/** Base64's alphabet with '+' and '/' spelt 'x': 6 random bits a character. */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789xx';

/** `bytes` random bytes' worth of token: as many characters as their base64 has (4 for every 3 bytes begun). */
export function randomToken(bytes = 9): string {
  const length = 4 * Math.ceil(bytes / 3);
  const b = new Uint8Array(length);
  globalThis.crypto.getRandomValues(b);
  let token = '';
  for (let i = 0; i < length; i++) token += ALPHABET[b[i]! & 63];
  return token;
}
