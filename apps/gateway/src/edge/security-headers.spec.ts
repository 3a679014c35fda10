import { securityHeaders, stripeCspSources } from './security-headers';

const directivesOf = (stripe: Parameters<typeof securityHeaders>[0]) => (securityHeaders(stripe).contentSecurityPolicy as { directives: Record<string, string[]> }).directives;

describe('the content security policy and card payments', () => {
  it('allows no other origin, and no frames but its own, without card payments', () => {
    const d = directivesOf(null);
    expect(d['script-src']).toEqual(["'self'"]);
    expect(d['connect-src']).toEqual(["'self'"]);
    expect(d['frame-src']).toBeUndefined();
    expect(stripeCspSources(null)).toBeNull();
  });

  it("adds exactly Stripe's documented entries for Stripe's Stripe.js (less Google Maps', for the Address Element the page does not use)", () => {
    const d = directivesOf({ publishableKey: 'pk_live_x', jsUrl: 'https://js.stripe.com/v3/' });
    expect(d['script-src']).toEqual(["'self'", 'https://js.stripe.com', 'https://*.js.stripe.com']);
    expect(d['frame-src']).toEqual(['https://js.stripe.com', 'https://*.js.stripe.com', 'https://hooks.stripe.com']);
    expect(d['connect-src']).toEqual(["'self'", 'https://api.stripe.com']);
    // The rest is as without card payments.
    const rest = (x: Record<string, string[]>) => Object.fromEntries(Object.entries(x).filter(([k]) => !['script-src', 'frame-src', 'connect-src'].includes(k)));
    expect(rest(d)).toEqual(rest(directivesOf(null)));
  });

  it('adds the one origin of a Stripe.js served elsewhere (development and tests): its script, frame and API', () => {
    const d = directivesOf({ publishableKey: 'pk_test_x', jsUrl: 'http://127.0.0.1:4010/v3/' });
    expect(d['script-src']).toEqual(["'self'", 'http://127.0.0.1:4010']);
    expect(d['frame-src']).toEqual(['http://127.0.0.1:4010']);
    expect(d['connect-src']).toEqual(["'self'", 'http://127.0.0.1:4010']);
  });
});
