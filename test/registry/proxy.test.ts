/**
 * Proxy choice as containers/image makes it (Go's http.ProxyFromEnvironment): a table
 * after golang.org/x/net/http/httpproxy's own tests.
 */
import t from 'tap';
import { parseProxyEnv, proxyFor, type ProxyEnv } from '../../src/registry/proxy.js';

const P = 'http://proxy.example:3128/';
const S = 'http://secure-proxy.example:3129/';
const rows: Array<[string, ProxyEnv, string, string | undefined]> = [
  // [name, env, url, expected proxy href]
  ['https uses HTTPS_PROXY', { HTTPS_PROXY: S, HTTP_PROXY: P }, 'https://registry.example/v2/', S],
  ['http uses HTTP_PROXY', { HTTPS_PROXY: S, HTTP_PROXY: P }, 'http://registry.example/v2/', P],
  ['https does not fall back to HTTP_PROXY', { HTTP_PROXY: P }, 'https://registry.example/v2/', undefined],
  ['http does not fall back to HTTPS_PROXY', { HTTPS_PROXY: S }, 'http://registry.example/v2/', undefined],
  ['upper case wins', { HTTPS_PROXY: S, https_proxy: P }, 'https://registry.example/', S],
  ['lower case when upper is unset or empty', { HTTPS_PROXY: '', https_proxy: P }, 'https://registry.example/', P],
  ['a value without scheme is http://', { HTTPS_PROXY: 'proxy.example:3128' }, 'https://registry.example/', P],
  ['an IP:port value without scheme', { HTTPS_PROXY: '10.0.0.1:3128' }, 'https://registry.example/', 'http://10.0.0.1:3128/'],
  ['an https proxy', { HTTPS_PROXY: 'https://proxy.example:3128' }, 'https://registry.example/', 'https://proxy.example:3128/'],
  ['localhost is never proxied', { HTTPS_PROXY: S }, 'https://localhost:5000/', undefined],
  ['127.0.0.1 is never proxied', { HTTPS_PROXY: S }, 'https://127.0.0.1:5000/', undefined],
  ['127.1.2.3 (loopback) is never proxied', { HTTPS_PROXY: S }, 'https://127.1.2.3/', undefined],
  ['::1 is never proxied', { HTTPS_PROXY: S }, 'https://[::1]:5000/', undefined],
  ['0.0.0.0 is not loopback: proxied', { HTTPS_PROXY: S }, 'https://0.0.0.0:5000/', S],
  ['NO_PROXY=* proxies nothing', { HTTPS_PROXY: S, NO_PROXY: '*' }, 'https://registry.example/', undefined],
  ['NO_PROXY domain matches itself', { HTTPS_PROXY: S, NO_PROXY: 'registry.example' }, 'https://registry.example/', undefined],
  ['NO_PROXY domain matches subdomains', { HTTPS_PROXY: S, NO_PROXY: 'example' }, 'https://registry.example/', undefined],
  ['NO_PROXY domain is no substring match', { HTTPS_PROXY: S, NO_PROXY: 'try.example' }, 'https://registry.example/', S],
  ['NO_PROXY .domain: subdomains only', { HTTPS_PROXY: S, NO_PROXY: '.registry.example' }, 'https://registry.example/', S],
  ['NO_PROXY .domain matches a subdomain', { HTTPS_PROXY: S, NO_PROXY: '.example' }, 'https://registry.example/', undefined],
  ['NO_PROXY *.domain is .domain', { HTTPS_PROXY: S, NO_PROXY: '*.example' }, 'https://mirror.registry.example/', undefined],
  ['NO_PROXY domain:port, other port', { HTTPS_PROXY: S, NO_PROXY: 'registry.example:5000' }, 'https://registry.example/', S],
  ['NO_PROXY domain:port, that port', { HTTPS_PROXY: S, NO_PROXY: 'registry.example:5000' }, 'https://registry.example:5000/', undefined],
  ['NO_PROXY domain:443 matches the default https port', { HTTPS_PROXY: S, NO_PROXY: 'registry.example:443' }, 'https://registry.example/', undefined],
  ['NO_PROXY is case-insensitive, spaces trimmed', { HTTPS_PROXY: S, NO_PROXY: ' other.example , REGISTRY.example ' }, 'https://registry.example/', undefined],
  ['NO_PROXY IP', { HTTPS_PROXY: S, NO_PROXY: '10.1.2.3' }, 'https://10.1.2.3:5000/', undefined],
  ['NO_PROXY IP:port, other port', { HTTPS_PROXY: S, NO_PROXY: '10.1.2.3:80' }, 'https://10.1.2.3:5000/', S],
  ['NO_PROXY CIDR', { HTTPS_PROXY: S, NO_PROXY: '10.0.0.0/8' }, 'https://10.1.2.3:5000/', undefined],
  ['NO_PROXY CIDR, outside', { HTTPS_PROXY: S, NO_PROXY: '10.0.0.0/8' }, 'https://11.1.2.3/', S],
  ['NO_PROXY IPv6 CIDR', { HTTPS_PROXY: S, NO_PROXY: 'fd00::/8' }, 'https://[fd12::1]:5000/', undefined],
  ['NO_PROXY [IPv6]:port', { HTTPS_PROXY: S, NO_PROXY: '[fd12::1]:5000' }, 'https://[fd12::1]:5000/', undefined],
  ['NO_PROXY IPv6 CIDR, outside', { HTTPS_PROXY: S, NO_PROXY: 'fd00::/8' }, 'https://[fe80::1]/', S],
  ['NO_PROXY IPv6 /64', { HTTPS_PROXY: S, NO_PROXY: '2001:db8:1:2::/64' }, 'https://[2001:db8:1:2:ffff::9]/', undefined],
  ['NO_PROXY IPv6 /64, the next /64', { HTTPS_PROXY: S, NO_PROXY: '2001:db8:1:2::/64' }, 'https://[2001:db8:1:3::9]/', S],
  ['NO_PROXY IPv6 /128 is one address', { HTTPS_PROXY: S, NO_PROXY: '2001:db8::1/128' }, 'https://[2001:db8::1]/', undefined],
  ['NO_PROXY IPv6 address, written differently', { HTTPS_PROXY: S, NO_PROXY: '2001:0db8:0:0::0001' }, 'https://[2001:db8::1]:5000/', undefined],
  ['NO_PROXY [IPv6]:port, other port', { HTTPS_PROXY: S, NO_PROXY: '[fd12::1]:5000' }, 'https://[fd12::1]:5001/', S],
  ['NO_PROXY IPv4 CIDR takes IPv4-mapped IPv6 hosts', { HTTPS_PROXY: S, NO_PROXY: '10.0.0.0/8' }, 'https://[::ffff:10.1.2.3]/', undefined],
  ['NO_PROXY IPv4 CIDR, an IPv4-mapped host outside', { HTTPS_PROXY: S, NO_PROXY: '10.0.0.0/8' }, 'https://[::ffff:11.1.2.3]/', S],
  ['NO_PROXY IPv4 address takes its IPv4-mapped form', { HTTPS_PROXY: S, NO_PROXY: '10.1.2.3' }, 'https://[::ffff:a01:203]:5000/', undefined],
  ['NO_PROXY IPv4-mapped address takes the IPv4 host', { HTTPS_PROXY: S, NO_PROXY: '::ffff:10.1.2.3' }, 'https://10.1.2.3/', undefined],
  ['NO_PROXY IPv4-mapped CIDR takes IPv4 hosts', { HTTPS_PROXY: S, NO_PROXY: '::ffff:10.0.0.0/104' }, 'https://10.200.0.1/', undefined],
  ['NO_PROXY IPv4-mapped CIDR, an IPv4 host outside', { HTTPS_PROXY: S, NO_PROXY: '::ffff:10.0.0.0/104' }, 'https://11.0.0.1/', S],
  ['NO_PROXY IPv4 CIDR does not take IPv6 hosts', { HTTPS_PROXY: S, NO_PROXY: '0.0.0.0/0' }, 'https://[fd12::1]/', S],
  ['IPv4-mapped loopback is never proxied', { HTTPS_PROXY: S }, 'https://[::ffff:127.0.0.1]:5000/', undefined],
  ['NO_PROXY IP:port, that port', { HTTPS_PROXY: S, NO_PROXY: '10.1.2.3:5000' }, 'https://10.1.2.3:5000/', undefined],
  ['NO_PROXY IP:port does not cover the same IP without port', { HTTPS_PROXY: S, NO_PROXY: '10.1.2.3:5000,10.9.9.9' }, 'https://10.1.2.3/', S],
  ['NO_PROXY a CIDR prefix too long is no CIDR', { HTTPS_PROXY: S, NO_PROXY: '10.0.0.0/33' }, 'https://10.0.0.1/', S],
  ['NO_PROXY domain entries apply to addresses, as in Go', { HTTPS_PROXY: S, NO_PROXY: '2.3' }, 'https://10.1.2.3/', undefined],
  ['lower-case no_proxy', { HTTPS_PROXY: S, no_proxy: 'registry.example' }, 'https://registry.example/', undefined],
];

for (const [name, env, url, want] of rows) {
  t.test(name, async (t) => {
    t.equal(proxyFor(parseProxyEnv(env), new URL(url))?.href, want);
  });
}

t.test('an unsupported proxy scheme is refused without echoing the value', async (t) => {
  t.throws(() => parseProxyEnv({ HTTPS_PROXY: 'ftp://user:hunter2@proxy.example' }), { message: /HTTPS_PROXY: unsupported proxy scheme ftp/ });
  try {
    parseProxyEnv({ HTTPS_PROXY: 'ftp://user:hunter2@proxy.example' });
  } catch (e) {
    t.notMatch((e as Error).message, /hunter2/);
  }
});
