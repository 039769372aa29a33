/**
 * `WWW-Authenticate` challenges (RFC 7235), as registries send them:
 * `Bearer realm="https://auth.example/token",service="registry",scope="repository:a/b:pull"`
 * or `Basic realm="Registry Realm"`. Pure; quoted strings may hold commas and escapes.
 */

export interface Challenge {
  readonly scheme: string; // lower-case: "bearer", "basic"
  readonly params: Readonly<Record<string, string>>;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/;

export function parseWwwAuthenticate(header: string): Challenge[] {
  const out: Challenge[] = [];
  let s = header.trim();
  let current: { scheme: string; params: Record<string, string> } | undefined;
  while (s.length > 0) {
    s = s.replace(/^[\s,]+/, '');
    const tok = TOKEN.exec(s)?.[0];
    if (!tok) break;
    const rest = s.slice(tok.length).replace(/^\s*/, '');
    if (rest.startsWith('=') && current) {
      // auth-param: name=value or name="quoted"
      let v = rest.slice(1).replace(/^\s*/, '');
      let value = '';
      if (v.startsWith('"')) {
        let i = 1;
        for (; i < v.length && v[i] !== '"'; i++) {
          if (v[i] === '\\' && i + 1 < v.length) i++;
          value += v[i];
        }
        v = v.slice(i + 1);
      } else {
        const m = /^[^,\s]*/.exec(v)?.[0] ?? '';
        value = m;
        v = v.slice(m.length);
      }
      current.params[tok.toLowerCase()] = value;
      s = v;
    } else {
      current = { scheme: tok.toLowerCase(), params: {} };
      out.push(current);
      s = rest;
    }
  }
  return out;
}
