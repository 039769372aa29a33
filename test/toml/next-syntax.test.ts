import t from 'tap';
import { tomlNextSyntax } from '../../src/toml/next-syntax.js';

t.test('TOML 1.1 syntax is found where it is; TOML 1.0 passes', async (t) => {
  t.match(tomlNextSyntax('a = 1\nb = "x\\e"\n'), { line: 2, message: /escape/ });
  t.match(tomlNextSyntax('a = { b = 1, }\n'), { line: 1, message: /Trailing comma/ });
  t.equal(tomlNextSyntax('a = { b = 1 }\n# caf\u00e9\nc = "\\u00e9"\n'), undefined);
  t.equal(tomlNextSyntax('\uFEFFa = 1\n'), undefined, 'a BOM is no syntax (smol-toml is given the text without it too)');
  t.equal(tomlNextSyntax('a = "\\\\x"\n'), undefined, 'an escaped backslash before x is TOML 1.0');
  t.match(tomlNextSyntax('a = 1\nb = 2024-05-01T10:30Z\n'), { line: 2 }, 'a time without its seconds');
  t.match(tomlNextSyntax('b = 10:30\n'), { line: 1 }, 'a local time without its seconds');
  t.equal(tomlNextSyntax('b = 2024-05-01T10:30:00Z\nc = "host12:5000"\n'), undefined, 'with its seconds: TOML 1.0 (the host:port only asks the parser)');
});
