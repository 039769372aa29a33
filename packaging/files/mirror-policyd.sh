#!/bin/sh
# /usr/bin/mirror-policyd: runs the program installed in /usr/lib/mirror-policyd with the
# Node.js runtime bundled with it (/usr/lib/mirror-policyd/node/bin/node, in the
# mirror-policyd-bundled package) when there is one, else the system's `node` from PATH.
# The package holds a native addon built for one Node.js ABI; launcher.js refuses a
# Node.js older than 20.19 or of another ABI with a clear message.
NODE=/usr/lib/mirror-policyd/node/bin/node
if [ ! -x "$NODE" ]; then
  NODE=$(command -v node 2>/dev/null) || NODE=
fi
if [ -z "$NODE" ]; then
  echo "mirror-policyd: Node.js not found (no 'node' in PATH=$PATH); install the nodejs package (>= 20.19, the ABI in /usr/lib/mirror-policyd/node-abi.json) or the self-contained mirror-policyd-bundled package" >&2
  exit 1
fi
exec "$NODE" /usr/lib/mirror-policyd/launcher.js "$@"
