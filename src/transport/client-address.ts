/**
 * The address a request is counted under for the per-address limit.
 *
 * Without trusted proxies it is the socket's peer. Behind `trustedProxyHops` reverse proxies (a load
 * balancer, an ingress) it is the address the outermost trusted proxy saw, read from the right of
 * `X-Forwarded-For`; entries further left are the caller's own claims and are ignored. IPv6 addresses
 * count by their /64 prefix (one subscriber's whole network), IPv4-mapped IPv6 as plain IPv4.
 */
import type { IncomingMessage } from 'node:http';
import { isIPv4, isIPv6 } from 'node:net';

export function clientAddress(req: IncomingMessage, trustedProxyHops: number): string {
  const hops = [req.socket.remoteAddress ?? 'unknown'];
  if (trustedProxyHops > 0) {
    const header = req.headers['x-forwarded-for'];
    const forwarded = (Array.isArray(header) ? header.join(',') : (header ?? ''))
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '');
    hops.push(...forwarded.reverse());
  }
  return addressKey(hops[Math.min(trustedProxyHops, hops.length - 1)]);
}

/** IPv4 as is; IPv6 as its /64 prefix; anything else (a malformed forwarded entry) as given, bounded. */
export function addressKey(address: string): string {
  const plain = address.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(plain);
  if (mapped) return mapped[1];
  if (isIPv4(plain)) return plain;
  if (isIPv6(plain)) return `${expandIPv6(plain).slice(0, 4).join(':')}::/64`;
  return plain.slice(0, 64);
}

/** The eight 16-bit groups of an IPv6 address, as lower-case hex without leading zeros. */
function expandIPv6(address: string): string[] {
  const [head, tail] = address.toLowerCase().split('::') as [string, string | undefined];
  const groups = (part: string | undefined) => (part ? part.split(':') : []);
  const toHex = (list: string[]) =>
    list.flatMap((group) => {
      if (!group.includes('.')) return [String(parseInt(group, 16).toString(16))];
      // An embedded IPv4 tail (e.g. ::1.2.3.4) is two groups.
      const [a, b, c, d] = group.split('.').map(Number) as [number, number, number, number];
      return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
    });
  const left = toHex(groups(head));
  const right = toHex(groups(tail));
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right];
}
