#!/usr/bin/env bash
# Everything the two README commands need, idempotent: the Debian packages the kernel tests use,
# the pinned pnpm, the dependencies (with the native addon's build) and a build of every package.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION="$(node -p "require('./package.json').packageManager.split('@')[1]")"
export TURBO_TELEMETRY_DISABLED=1

SETUP_STARTED="$(date +%s)"
log() { printf '==> %s (%s s)\n' "$*" "$(($(date +%s) - SETUP_STARTED))"; }

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  echo "cnm needs Node.js 20 or newer (found $(node -v))" >&2
  exit 1
fi

# Debian packages the tests and the demo use, installed only when missing.
missing=()
command -v nft >/dev/null 2>&1 || missing+=(nftables)
command -v iptables >/dev/null 2>&1 || missing+=(iptables)
command -v ping >/dev/null 2>&1 || missing+=(iputils-ping)
command -v nsenter >/dev/null 2>&1 || missing+=(util-linux)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
# Clients not ours that the tests drive: DNS (dig, busybox nslookup: busybox-static below gives the
# command; Debian's busybox and busybox-static conflict), the thin CLI's module check.
command -v dig >/dev/null 2>&1 || missing+=(dnsutils)
command -v strace >/dev/null 2>&1 || missing+=(strace)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v curl >/dev/null 2>&1 || missing+=(curl)
# The real clients the runtime tests drive (rule 1), each in a throwaway namespace the test makes:
# dockerd (Docker's plugin protocol), Podman with runc and the CNI reference plugins (CNI), etcd
# (the global store), busybox-static (the root file system of the test images).
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || missing+=(busybox-static)
command -v podman >/dev/null 2>&1 || missing+=(podman)
command -v runc >/dev/null 2>&1 || missing+=(runc)
[ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || missing+=(etcd-client)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    # Some of these ship services (docker, etcd): a policy-rc.d that exits 101 keeps every one of
    # them from starting in the host's namespace; the tests start their own, in namespaces.
    own_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\n# cnm setup: no service starts while packages install\nexit 101\n' >/usr/sbin/policy-rc.d
      chmod 0755 /usr/sbin/policy-rc.d
      own_policy=1
    fi
    apt-get update -qq
    apt_status=0
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || apt_status=$?
    [ "$own_policy" -eq 1 ] && rm -f /usr/sbin/policy-rc.d
    [ "$apt_status" -eq 0 ] || exit "$apt_status"
  else
    echo "warning: missing ${missing[*]}; install them (as root: apt-get install ${missing[*]})" >&2
  fi
fi

# Exactly the pinned pnpm (corepack does not work here; npm does).
if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  log "installing pnpm@$PNPM_VERSION"
  npm install --global --silent "pnpm@$PNPM_VERSION" >/dev/null
fi

# Native builds (the netns addon, better-sqlite3) use the running Node's own headers: no download.
npm_config_nodedir="$(dirname "$(dirname "$(command -v node)")")"
export npm_config_nodedir

# Skipped when nothing it depends on changed since the last install (the lockfile, every manifest,
# the Node version): no dependency re-resolution and no native rebuild on every demo run.
cache_dir="$(bash scripts/cache-dir.sh)"
stamp_file=node_modules/.cnm-install-stamp
stamp="$({ node -v; cat pnpm-lock.yaml pnpm-workspace.yaml package.json packages/*/package.json tools/*/package.json 2>/dev/null; } | sha256sum | cut -d' ' -f1)"
if [ -f node_modules/.modules.yaml ] && [ "$(cat "$stamp_file" 2>/dev/null || true)" = "$stamp" ]; then
  log "dependencies up to date (pnpm install skipped)"
else
  log "pnpm install (the first one on a fresh machine takes a few minutes: SQLite and the addons compile)"
  # The addons' builds of an unchanged native source come from the cache (scripts/addon-cache.mjs).
  node scripts/addon-cache.mjs restore "$cache_dir" | sed 's/^/    /'
  # Progress as it happens, not a silent wait (node-gyp's argument dumps left out).
  pnpm install --frozen-lockfile --reporter=append-only 2>&1 | grep -v -e '^\s*$' -e 'gyp info' | sed 's/^/    /'
  echo "$stamp" >"$stamp_file"
fi
# The prebuilt addons the tarballs ship (each package's prepack makes them when they are older than
# the sources): made here, once, so that the packs which run beside each other later (the package
# checks, the release test) never build them at the same time.
for pkg in packages/*/; do
  if [ -f "$pkg/binding.gyp" ] && grep -q '"prepack"' "$pkg/package.json"; then
    node packages/addon-build/bin/cnm-build-addon.js --prebuild "$pkg" | sed 's/^/    /'
  fi
done
node scripts/addon-cache.mjs save "$cache_dir" | sed 's/^/    /'

# The build cache outlives the checkout (a clean clone of an unchanged tree restores every
# package's dist/ instead of compiling it), keyed by content: turbo hashes each package's inputs,
# its dependencies' hashes, the lockfile's versions and turbo.json's global dependencies, so a
# changed source always rebuilds. `CNM_CACHE_DIR` moves it; default /var/cache/cnm as root.
log "build (cache: $cache_dir/turbo)"
pnpm exec turbo run build --output-logs=errors-only --cache-dir "$cache_dir/turbo"
log "set-up done"
