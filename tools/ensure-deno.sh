#!/usr/bin/env bash
# Makes Deno 2.9.6 available without assuming it is installed: when the `deno`
# on PATH is missing or another version, installs the npm package `deno@2.9.6`
# into ./node_modules (git-ignored). `npx -y deno@2.9.6 ...` then finds it
# there without downloading again. Source this file to get it on PATH.
DENO_VERSION=2.9.6
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if ! deno --version 2>/dev/null | head -1 | grep -q "^deno ${DENO_VERSION} "; then
  if ! "$root/node_modules/.bin/deno" --version 2>/dev/null | head -1 | grep -q "^deno ${DENO_VERSION} "; then
    echo "installing deno@${DENO_VERSION} from npm into node_modules/ ..."
    (cd "$root" && npm install --no-save --no-package-lock --no-audit --no-fund "deno@${DENO_VERSION}" >/dev/null) || {
      echo "could not install deno@${DENO_VERSION} from npm" >&2
      return 1 2>/dev/null || exit 1
    }
  fi
  export PATH="$root/node_modules/.bin:$PATH"
fi
