/**
 * Which addresses webhook deliveries may reach (docs/security.md, "Webhooks"). An endpoint's URL is
 * checked when it is registered, and every address its host resolves to is checked again at each
 * connection (`lookup`), so a name that later resolves elsewhere (DNS rebinding) reaches no
 * loopback, private, link-local or cloud metadata address either, unless the operator allowed that
 * range (WEBHOOK_ALLOWED_CIDRS). Both checks ask the same resolver: the system's (`dns.lookup`,
 * as node:http would), or one the composition root hands over.
 */
import dns from 'node:dns';
import net, { BlockList, type LookupFunction } from 'node:net';
import { badInput } from '../../domain/errors';
import type { UrlGuard } from '../../domain/ports/webhooks';

/** Ranges no delivery reaches unless allowed: RFC 6890 special-purpose, private, loopback, link-local (cloud metadata), multicast. */
const REFUSED_V4: [string, number][] = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
];
const REFUSED_V6: [string, number][] = [
  ['::', 128],
  ['::1', 128],
  // Forms that embed an IPv4 address a translator may reach: IPv4-compatible, SIIT, 6to4, NAT64.
  ['::', 96],
  ['::ffff:0:0:0', 96],
  ['2002::', 16],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['fec0::', 10],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
];

/** Every address a host name resolves to, as `dns.lookup(name, { all: true })` answers. */
export type HostResolver = (hostname: string) => Promise<{ address: string; family: number }[]>;

const systemResolver: HostResolver = (hostname) => dns.promises.lookup(hostname, { all: true, verbatim: true });

export interface OutboundPolicyOptions {
  /** In production endpoints must be https. */
  production: boolean;
  allowedCidrs: readonly string[];
  /** How host names are resolved, at registration and at each connection; default the system's. */
  resolve?: HostResolver;
}

export class OutboundPolicy implements UrlGuard {
  private readonly refused = new BlockList();
  private readonly allowed = new BlockList();
  private readonly resolve: HostResolver;

  constructor(private readonly options: OutboundPolicyOptions) {
    this.resolve = options.resolve ?? systemResolver;
    for (const [address, prefix] of REFUSED_V4) this.refused.addSubnet(address, prefix, 'ipv4');
    for (const [address, prefix] of REFUSED_V6) this.refused.addSubnet(address, prefix, 'ipv6');
    for (const cidr of options.allowedCidrs) {
      const [address, prefix] = cidr.split('/');
      const family = net.isIPv6(address) ? 'ipv6' : 'ipv4';
      this.allowed.addSubnet(address, Number(prefix), family);
    }
  }

  /** Whether a delivery may connect to `address` (an IPv4 or IPv6 literal). */
  mayReach(address: string): boolean {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    const ip = mapped ? mapped[1] : address;
    const family = net.isIPv6(ip) ? 'ipv6' : 'ipv4';
    if (this.allowed.check(ip, family)) return true;
    return !this.refused.check(ip, family);
  }

  async check(url: string): Promise<void> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw badInput('url must be an absolute http(s) URL.');
    }
    const schemes = this.options.production ? ['https:'] : ['https:', 'http:'];
    if (!schemes.includes(parsed.protocol)) throw badInput(this.options.production ? 'url must use https.' : 'url must use https or http.');
    if (parsed.username || parsed.password) throw badInput('url must not carry credentials.');
    const host = hostOf(parsed);
    let addresses: string[];
    try {
      addresses = net.isIP(host) ? [host] : (await this.resolve(host)).map((entry) => entry.address);
    } catch {
      throw badInput('url: its host name does not resolve.');
    }
    if (addresses.some((address) => !this.mayReach(address))) {
      throw badInput('url resolves to a loopback, private, link-local or otherwise reserved address, which webhooks may not reach.');
    }
  }

  /**
   * A `lookup` for node:http that refuses names resolving to any address deliveries may not reach:
   * the addresses checked are the ones the socket then connects to, whatever the name said before.
   */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    const family = options.family === 4 || options.family === 6 ? options.family : undefined;
    this.resolve(hostname).then(
      (entries) => {
        const list = family ? entries.filter((entry) => entry.family === family) : entries;
        if (list.length === 0) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
        if (list.some((entry) => !this.mayReach(entry.address))) {
          return callback(Object.assign(new Error('the endpoint resolves to an address webhooks may not reach'), { code: 'EADDRREFUSED' }), '', 0);
        }
        if (options.all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
        callback(null, list[0].address, list[0].family);
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };
}

/** The URL's host without IPv6 brackets. */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}
