import { IncomingMessage } from 'http';
import ipaddr from 'ipaddr.js';

/** The proxies in front of the gateway whose X-Forwarded-For it believes. */
export interface TrustedProxies {
  /** Also express's `trust proxy`, so that `req.ip` agrees. */
  trusts(address: string): boolean;
}

/** Entries of TRUSTED_PROXIES; a longer list is a mistake. */
const MAX_TRUSTED_PROXY_ENTRIES = 100;
/** Longer X-Forwarded-For headers are read no further (hops beyond are not believed anyway). */
const MAX_FORWARDED_HOPS = 32;

/** An address as ipaddr.js reads it, IPv4-mapped IPv6 (`::ffff:10.0.0.1`) as the IPv4 address it is; null if not one. */
export function parseAddress(text: string | undefined): ipaddr.IPv4 | ipaddr.IPv6 | null {
  if (!text) return null;
  const bare = text.trim().replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (!ipaddr.isValid(bare)) return null;
  return ipaddr.process(bare);
}

/**
 * TRUSTED_PROXIES: comma-separated addresses or CIDR ranges (`10.0.0.0/8`, `fd00::/8`), or
 * `loopback`. Empty (the default): the gateway is reached directly and X-Forwarded-For is
 * ignored, since any client can write one. A range covering every address is refused: that
 * would believe whatever a client writes.
 */
export function parseTrustedProxies(value: string | undefined): TrustedProxies {
  const entries = (value ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (entries.length > MAX_TRUSTED_PROXY_ENTRIES) throw new Error(`TRUSTED_PROXIES has more than ${MAX_TRUSTED_PROXY_ENTRIES} entries`);
  const ranges: [ipaddr.IPv4 | ipaddr.IPv6, number][] = [];
  for (const entry of entries) {
    if (entry === 'loopback') {
      ranges.push(ipaddr.parseCIDR('127.0.0.0/8'), ipaddr.parseCIDR('::1/128'));
      continue;
    }
    let range: [ipaddr.IPv4 | ipaddr.IPv6, number];
    try {
      range = entry.includes('/') ? ipaddr.parseCIDR(entry) : [ipaddr.parse(entry), ipaddr.parse(entry).kind() === 'ipv4' ? 32 : 128];
    } catch {
      throw new Error(`TRUSTED_PROXIES: '${entry}' is not an address, a CIDR range or 'loopback'`);
    }
    if (range[1] === 0) throw new Error(`TRUSTED_PROXIES: '${entry}' would trust every address`);
    // An IPv4-mapped IPv6 range is the IPv4 range it maps (addresses are compared as IPv4).
    if (range[0].kind() === 'ipv6' && (range[0] as ipaddr.IPv6).isIPv4MappedAddress() && range[1] >= 96) {
      range = [(range[0] as ipaddr.IPv6).toIPv4Address(), range[1] - 96];
    }
    ranges.push(range);
  }
  return {
    trusts(address: string): boolean {
      const parsed = parseAddress(address);
      return parsed !== null && ranges.some(([net, bits]) => net.kind() === parsed.kind() && parsed.match(net, bits));
    },
  };
}

/**
 * The client's address: the connection's peer, unless that peer is a trusted proxy; then the
 * X-Forwarded-For entries from the right (the nearest hop first), skipping trusted proxies, and
 * the first one that is not trusted is the client (what express's `trust proxy` does with the
 * same list). A junk entry ends the walk: it is the client's own writing.
 */
export function clientAddress(request: Pick<IncomingMessage, 'headers' | 'socket'>, proxies: TrustedProxies): string {
  const peer = normalize(request.socket?.remoteAddress) ?? 'unknown';
  if (!proxies.trusts(peer)) return peer;
  const header = request.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : header ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0).reverse().slice(0, MAX_FORWARDED_HOPS);
  let address = peer;
  for (const hop of hops) {
    const parsed = normalize(hop);
    if (parsed === null) return address;
    address = parsed;
    if (!proxies.trusts(address)) return address;
  }
  return address;
}

function normalize(text: string | undefined): string | null {
  return parseAddress(text)?.toString() ?? null;
}
