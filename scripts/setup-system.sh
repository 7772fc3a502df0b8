#!/usr/bin/env bash
# Installs the system packages ate's sandboxes and tests need, on Debian bookworm as root.
# Idempotent: does nothing when everything is already there.
#   runsc           gVisor, from bookworm-backports (the bookworm build cannot checkpoint with
#                   TCP endpoints in TIME_WAIT and kills the sandbox when it fails)
#   iproute2        network namespaces and veth pairs for workers
#   iptables        DNAT from each worker's outer address to the sandbox's fixed inner one
#   conntrack       lists (and drops) connections into a sandbox before it is checkpointed
#   docker-registry a local OCI registry on loopback for image tests and demos
#   redis-server    the records store at scale (tests start their own on loopback)
#   valkey-server   shared records and resources for many machines, from bookworm-backports
#                   (bookworm itself has none; tests start their own on loopback)
#   curl            the demo's requests through the router
#   dnsmasq-base    a DNS server for the egress tests' "outside" network (/usr/sbin/dnsmasq; not
#                   the dnsmasq package, which starts a system-wide service)
#   chromium        headless Chromium for the dashboard's browser test (test/ui.test.ts drives it
#                   with playwright-core; no browser is downloaded from anywhere else)
#   kubernetes-client  Debian's kubectl (1.20), which the kubectl tests run against ate's API;
#                   unpacked under /opt/ate/kubernetes-client, not installed: a machine may have
#                   another kubectl at /usr/bin/kubectl (its own package), which it must keep
set -euo pipefail

need=()
runsc_ok() { command -v runsc >/dev/null && dpkg-query -W -f='${Version}' runsc 2>/dev/null | grep -q '^0.0~2024'; }
runsc_ok || need+=(runsc)
command -v ip >/dev/null || need+=(iproute2)
command -v iptables >/dev/null || need+=(iptables)
command -v conntrack >/dev/null || need+=(conntrack)
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v redis-server >/dev/null || need+=(redis-server)
command -v valkey-server >/dev/null || need+=(valkey-server)
command -v curl >/dev/null || need+=(curl)
[[ -x /usr/sbin/dnsmasq ]] || need+=(dnsmasq-base)
[[ -x /usr/bin/chromium ]] || need+=(chromium)
kubectl_dir=/opt/ate/kubernetes-client
[[ -x $kubectl_dir/usr/bin/kubectl ]] || need+=(kubernetes-client)
[[ ${#need[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "setup-system: missing ${need[*]}; run as root (or install them: see scripts/setup-system.sh)" >&2
  exit 1
fi

# bookworm-backports on the same mirror apt already uses.
if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  mirror=$( { grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'
             grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}'; } | grep -v security | head -n 1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$mirror" >/etc/apt/sources.list.d/ate-bookworm-backports.sources
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
backports=() others=()
for p in "${need[@]}"; do
  if [[ $p == kubernetes-client ]]; then
    # Downloaded and unpacked whole (one static binary); apt fetches into root's private temp
    # dir as root, not as its _apt user (its warning saying so is expected).
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download -qq kubernetes-client >/dev/null)
    rm -rf "$kubectl_dir.new" && dpkg -x "$tmp"/kubernetes-client_*.deb "$kubectl_dir.new"
    rm -rf "$kubectl_dir" && mv "$kubectl_dir.new" "$kubectl_dir" && rm -rf "$tmp"
  elif [[ $p == runsc || $p == valkey-server ]]; then backports+=("$p"); else others+=("$p"); fi
done
[[ ${#others[@]} -gt 0 ]] && apt-get install -y -qq --no-install-recommends "${others[@]}" >/dev/null
[[ ${#backports[@]} -gt 0 ]] &&
  apt-get install -y -qq --no-install-recommends -t bookworm-backports "${backports[@]}" >/dev/null
runsc_ok || { echo "setup-system: runsc from bookworm-backports did not install" >&2; exit 1; }
command -v valkey-server >/dev/null ||
  { echo "setup-system: valkey-server from bookworm-backports did not install" >&2; exit 1; }
[[ -x $kubectl_dir/usr/bin/kubectl ]] ||
  { echo "setup-system: kubernetes-client did not unpack into $kubectl_dir" >&2; exit 1; }
