import ipaddr from 'ipaddr.js';
import { isIP } from 'net';

/**
 * Where alert webhooks may go. A webhook URL is chosen by an organization, and the alert service
 * POSTs to it from inside our network: without this policy any organization could make the service
 * call our databases, admin ports or a cloud's instance metadata (SSRF). Only globally routable
 * unicast addresses are allowed; everything else is refused by class, unless an operator lists it
 * (`ALERTS_WEBHOOK_ALLOW_CIDRS`, `ALERTS_WEBHOOK_ALLOW_HOSTS`) for tests and private deployments.
 * Cloud metadata endpoints are refused even then: they are never a webhook receiver.
 */

/** Why an address is not a public unicast one; `public` is the only class a webhook may reach by default. */
export type AddressClass =
  | 'public'
  | 'cloud-metadata'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'carrier-grade-nat'
  | 'unique-local'
  | 'ipv4-mapped'
  | 'ipv4-embedded'
  | 'unspecified'
  | 'multicast'
  | 'broadcast'
  | 'reserved'
  | 'not-an-address';

/**
 * Instance metadata and platform services of the big clouds, by address. Most sit in ranges refused
 * anyway (link-local, CGNAT, unique-local); Azure's WireServer (168.63.129.16) looks public.
 */
export const CLOUD_METADATA_ADDRESSES: readonly string[] = [
  '169.254.169.254', // AWS, GCP, Azure, OpenStack, DigitalOcean, ... instance metadata
  '169.254.170.2', // AWS ECS task metadata and credentials
  '169.254.169.253', // AWS VPC DNS
  '169.254.169.123', // AWS time sync
  '100.100.100.200', // Alibaba Cloud
  '192.0.0.192', // Oracle Cloud
  '168.63.129.16', // Azure WireServer
  'fd00:ec2::254', // AWS instance metadata over IPv6
  'fd00:ec2::23', // AWS VPC DNS over IPv6
  'fd20:ce::254', // GCP metadata over IPv6
];

/**
 * Host names refused before any lookup: they name this machine, the local network or a cloud's
 * internal zone (`metadata.google.internal`). A name without a dot is refused too: the resolver
 * would complete it with the machine's search domains (`kubernetes` becomes an internal service).
 */
export const INTERNAL_NAME_SUFFIXES: readonly string[] = ['localhost', 'local', 'internal', 'localdomain', 'home.arpa', 'metadata.goog'];

const METADATA = new Set(CLOUD_METADATA_ADDRESSES.map((a) => ipaddr.parse(a).toNormalizedString()));
/** IPv6's global unicast space (2000::/3); what lies outside it and outside the named ranges is unassigned. */
const IPV6_GLOBAL_UNICAST = ipaddr.parseCIDR('2000::/3');
/** IPv4-compatible IPv6 (::a.b.c.d, deprecated): ipaddr.js calls it unicast; it embeds an IPv4 address. */
const IPV4_COMPATIBLE = ipaddr.parseCIDR('::/96');

const IPV4_CLASSES: Record<string, AddressClass> = {
  unicast: 'public',
  unspecified: 'unspecified',
  broadcast: 'broadcast',
  multicast: 'multicast',
  linkLocal: 'link-local',
  loopback: 'loopback',
  carrierGradeNat: 'carrier-grade-nat',
  private: 'private',
};
const IPV6_CLASSES: Record<string, AddressClass> = {
  unicast: 'public',
  unspecified: 'unspecified',
  linkLocal: 'link-local',
  multicast: 'multicast',
  loopback: 'loopback',
  uniqueLocal: 'unique-local',
  ipv4Mapped: 'ipv4-mapped',
  rfc6145: 'ipv4-mapped',
  // NAT64, 6to4 and Teredo carry an IPv4 address that a translator or relay may reach for us.
  rfc6052: 'ipv4-embedded',
  '6to4': 'ipv4-embedded',
  teredo: 'ipv4-embedded',
};

/**
 * Reads an IP address as the kernel will: only the standard text forms (net.isIP), and IPv6
 * rewritten to its canonical form by the WHATWG URL parser first, because ipaddr.js reads
 * `::127.0.0.1` (IPv4-compatible) as `::ffff:127.0.0.1` (IPv4-mapped). Null if not an address.
 */
function parseIp(address: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  const text = (address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address).split('%')[0];
  const version = isIP(text);
  if (version === 0) return null;
  try {
    return ipaddr.parse(version === 6 ? new URL(`http://[${text}]/`).hostname.slice(1, -1) : text);
  } catch {
    return null;
  }
}

/** The class of an IP address in text form (as a URL or a resolver gives it); anything else is `not-an-address`. */
export function classifyAddress(address: string): AddressClass {
  const ip = parseIp(address);
  if (ip === null) return 'not-an-address';
  if (METADATA.has(ip.toNormalizedString())) return 'cloud-metadata';
  if (ip.kind() === 'ipv4') return IPV4_CLASSES[(ip as ipaddr.IPv4).range()] ?? 'reserved';
  const v6 = ip as ipaddr.IPv6;
  const range = v6.range();
  if (range === 'ipv4Mapped' && METADATA.has(v6.toIPv4Address().toNormalizedString())) return 'cloud-metadata';
  const cls = IPV6_CLASSES[range] ?? 'reserved';
  if (cls !== 'public') return cls;
  if (v6.match(IPV4_COMPATIBLE)) return 'ipv4-embedded';
  return v6.match(IPV6_GLOBAL_UNICAST) ? 'public' : 'reserved';
}

/** An address or name the policy refuses, with the reason in words an organization can act on. */
export interface AddressRefusal {
  readonly class: AddressClass | 'internal-name';
  readonly reason: string;
}

export interface WebhookAddressPolicyOptions {
  /** IP ranges (`127.0.0.1/32`, `10.20.0.0/16`, `::1`) allowed although not public. */
  readonly allowCidrs?: readonly string[];
  /** Host names (`hooks.corp.example`, `*.corp.example`) allowed whatever they resolve to, cloud metadata excepted. */
  readonly allowHosts?: readonly string[];
}

const HOST_NAME = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** Reads one allow-list CIDR (a bare address is a /32 or /128); throws with the entry named. */
export function parseAllowCidr(entry: string): [ipaddr.IPv4 | ipaddr.IPv6, number] {
  const [address, bits, ...rest] = entry.split('/');
  if (rest.length > 0 || isIP(address) === 0) throw new Error(`'${entry}' is not an IP address or CIDR range`);
  try {
    const ip = parseIp(address)!;
    const max = ip.kind() === 'ipv4' ? 32 : 128;
    const prefix = bits === undefined ? max : Number(bits);
    if (!/^[0-9]{1,3}$/.test(bits ?? String(max)) || prefix > max) throw new Error('bad prefix');
    return [ip, prefix];
  } catch {
    throw new Error(`'${entry}' is not an IP address or CIDR range`);
  }
}

/** Reads one allow-list host name, lower-cased; `*.example.com` matches every name under example.com. */
export function parseAllowHost(entry: string): string {
  const host = entry.toLowerCase().replace(/\.$/, '');
  if (!HOST_NAME.test(host) || host.length > 253 || isIP(host) !== 0) throw new Error(`'${entry}' is not a host name (use ALERTS_WEBHOOK_ALLOW_CIDRS for addresses)`);
  return host;
}

/** The rules themselves, without DNS: for a URL's host name and for each address it resolves to. */
export class WebhookAddressPolicy {
  private readonly cidrs: readonly [ipaddr.IPv4 | ipaddr.IPv6, number][];
  private readonly hosts: readonly string[];

  constructor(options: WebhookAddressPolicyOptions = {}) {
    this.cidrs = (options.allowCidrs ?? []).map(parseAllowCidr);
    this.hosts = (options.allowHosts ?? []).map(parseAllowHost);
  }

  /** True if the operator listed this host name: its addresses are then not checked (cloud metadata excepted). */
  isHostAllowListed(hostname: string): boolean {
    const host = normalizeHost(hostname);
    return this.hosts.some((h) => (h.startsWith('*.') ? host.endsWith(h.slice(1)) : host === h));
  }

  /** Refusal of a host name on its own (before any lookup); null if it may be looked up. IP literals are for `checkAddress`. */
  checkHostName(hostname: string): AddressRefusal | null {
    const host = normalizeHost(hostname);
    if (isIP(host) !== 0 || this.isHostAllowListed(host)) return null;
    if (!host.includes('.')) return { class: 'internal-name', reason: `'${host}' is not a fully qualified domain name` };
    const suffix = INTERNAL_NAME_SUFFIXES.find((s) => host === s || host.endsWith(`.${s}`));
    if (suffix) return { class: 'internal-name', reason: `'${host}' is an internal name (.${suffix})` };
    return null;
  }

  /**
   * Refusal of an address a webhook would connect to; null if allowed. `viaAllowedHost`: it came
   * from resolving a host name the operator listed.
   */
  checkAddress(address: string, viaAllowedHost = false): AddressRefusal | null {
    const cls = classifyAddress(address);
    if (cls === 'public') return null;
    if (cls === 'not-an-address') return { class: cls, reason: `'${address}' is not an IP address` };
    if (cls === 'cloud-metadata') return { class: cls, reason: 'a cloud metadata address' };
    if (viaAllowedHost || this.inAllowedRange(address)) return null;
    return { class: cls, reason: `a ${cls} address` };
  }

  private inAllowedRange(address: string): boolean {
    const ip = parseIp(address);
    if (ip === null) return false;
    // An IPv4-mapped address is the IPv4 address to the kernel: match it as such too.
    const forms: (ipaddr.IPv4 | ipaddr.IPv6)[] = [ip];
    if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) forms.push((ip as ipaddr.IPv6).toIPv4Address());
    return this.cidrs.some(([range, bits]) => forms.some((f) => f.kind() === range.kind() && f.match(range, bits)));
  }
}

/** A URL's hostname as the rules see it: lower case, no brackets, no trailing dot. */
export function normalizeHost(hostname: string): string {
  return hostname.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
}
