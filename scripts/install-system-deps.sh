#!/usr/bin/env bash
# Installs the Debian packages the service and its tests need, when missing:
# mosquitto (the broker), prometheus (monitoring tests), chromium (the replay report test),
# rabbitmq-server (the clustered broker of docs/deployment.md; tests/integration/test_rabbitmq_cluster.py).
# openssl (TLS certificates of the private test brokers).
set -euo pipefail
need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v prometheus >/dev/null 2>&1 || [ -x /usr/bin/prometheus ] || need+=(prometheus)
# Headless Chromium opens the replay report in tests (every plot image must load).
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
# RabbitMQ 3.10 with its MQTT plugin (and Erlang): the tests start private two-node clusters (sim/rabbit.py).
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || need+=(rabbitmq-server)
# openssl: the TLS certificates of the private brokers in tests (RabbitMQ cluster, broker TLS).
command -v openssl >/dev/null 2>&1 || need+=(openssl)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${need[*]} — run: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The packages' own services are not wanted: tests start private instances on free ports.
for s in mosquitto prometheus rabbitmq-server; do
  (command -v systemctl >/dev/null && systemctl disable --now "$s" >/dev/null 2>&1) || true
done
