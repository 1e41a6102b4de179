#!/usr/bin/env bash
# Install what the local stack needs from Debian's packages when it is missing:
# Java 17+ and Maven (the Kafka broker from Maven Central jars), redis-server, Prometheus and
# Alertmanager (the local stack's alerting; promtool and amtool for the rule tests), and chromium
# (the test that renders the HTML reports headless). Under systemd the prometheus packages also
# start their own system services (as redis-server does); Touchline does not use them:
# `touchline services up` runs its own processes on its own ports and state directory.
# Needs root (or sudo) only when something is missing.
set -euo pipefail
missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)  # joins the test Redis Cluster
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)   # also promtool (rule tests)
command -v prometheus-alertmanager >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)  # the HTML report test renders in it
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
  echo "touchline: missing ${missing[*]}: install them with apt-get (needs root)" >&2; exit 2
fi
echo "installing ${missing[*]} with apt-get"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
