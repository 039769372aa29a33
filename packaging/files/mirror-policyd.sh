#!/bin/sh
# /usr/bin/mirror-policyd: runs the program installed in /usr/lib/mirror-policyd with the
# system's Node.js. The package holds a native addon built for one Node.js ABI;
# launcher.js refuses any other Node.js with a clear message.
NODE=$(command -v node 2>/dev/null) || NODE=
if [ -z "$NODE" ]; then
  echo "mirror-policyd: Node.js not found (no 'node' in PATH=$PATH); install the nodejs package (>= 20.19, the ABI in /usr/lib/mirror-policyd/node-abi.json)" >&2
  exit 1
fi
exec "$NODE" /usr/lib/mirror-policyd/launcher.js "$@"
