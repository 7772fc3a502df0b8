#!/usr/bin/env bash
# The counter demo's scenario: three actors on two workers, requests through the router,
# suspends, and a resume onto the other worker with both counters (memory and file) carrying on.
#
# Needs a running `ate up` with demos/counter applied. Settings (environment):
#   ATE        the ate command (default: ate)
#   ATE_SERVER the API (default: the local ate up, http://127.0.0.1:7443)
#   ATE_TOKEN  its token (default: the one ate up wrote to ~/.config/ate/config.yaml, or $ATE_CONFIG)
#   ROUTER     the router (default: http://127.0.0.1:7480)
#   ATESPACE   where the actors live (default: default)
set -euo pipefail

ate=${ATE:-ate}
router=${ROUTER:-http://127.0.0.1:7480}
atespace=${ATESPACE:-default}

if [[ -t 1 ]]; then bold=$'\e[1m' dim=$'\e[2m' off=$'\e[0m'; else bold='' dim='' off=''; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$off"; }
show() { printf '%s$ %s%s\n' "$dim" "$*" "$off"; }
run() { show "${*/#$ate/ate}"; "$@"; }
last=''
count() {
  show "curl $router/actors/$atespace/$1/"
  last=$(curl -sS --fail-with-body --max-time 120 "$router/actors/$atespace/$1/")
  printf '%s\n' "$last"
}
field() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" <<<"$last"; }
# The WORKER column of `ate get actor`.
worker_of() { "$ate" get actor "$1" -a "$atespace" | awk 'NR == 2 { print $6 }'; }

step "1. Three actors from the counter template, for two workers. Actors are stored SUSPENDED: no worker until needed."
for a in alice bob carol; do
  if "$ate" get actor "$a" -a "$atespace" >/dev/null 2>&1; then
    # From an earlier run: start from suspended so the walk below is the same every time.
    run "$ate" suspend actor "$a" -a "$atespace"
  else
    run "$ate" create actor "$a" -t default/counter -a "$atespace"
  fi
done
run "$ate" get actors -a "$atespace"

step "2. Requests through the router. The first resumes alice on a free worker."
for _ in 1 2 3; do count alice; done
memory_before=$(field memory) file_before=$(field file)
worker_before=$(worker_of alice)

step "3. bob gets the other worker."
count bob
run "$ate" get workers

step "4. Suspend alice: her memory and files go to snapshot storage and her worker is free; carol takes it."
run "$ate" suspend actor alice -a "$atespace"
count carol
run "$ate" get actors -a "$atespace"

step "5. Suspend bob; a request for alice resumes her from her snapshot on the worker bob had."
run "$ate" suspend actor bob -a "$atespace"
count alice
memory_after=$(field memory) file_after=$(field file)
worker_after=$(worker_of alice)
run "$ate" get actors -a "$atespace"
run "$ate" get workers

echo
if [[ $worker_after == "$worker_before" ]]; then
  echo "alice came back on the same worker ($worker_after): expected the other one" >&2
  exit 1
fi
if ((memory_after != memory_before + 1 || file_after != file_before + 1)); then
  echo "alice's counters did not continue: memory $memory_before -> $memory_after, file $file_before -> $file_after" >&2
  exit 1
fi
echo "${bold}alice moved from worker $worker_before to $worker_after; her memory counter went $memory_before -> $memory_after and her file counter $file_before -> $file_after: state survived the suspend and resume.${off}"
