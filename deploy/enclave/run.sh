# The enclave's init (busybox sh). An enclave has no disk, no network but lo, and no console
# outside debug mode; everything crosses vsock to the parent instance (CID 3):
#
#   vsock 7000  in:  the node's configuration, a tar the parent sends once at start:
#                    node.yaml (chain-url, package, cluster, kubeconfig: /run/nautilus/kubeconfig,
#                    metrics-listen: 127.0.0.1:9412), kubeconfig, and forwards (lines
#                    "LOCAL_IP:PORT VSOCK_PORT": the chain's and the API server's endpoints as
#                    the node dials them, each forwarded to a vsock-proxy on the parent) and
#                    hosts (lines for /etc/hosts naming those endpoints' hosts).
#   vsock 7001  out: what the node is doing: its address, and why it is not attested yet
#                    (for example "0x… owns no SUI to pay gas; fund it").
#   vsock 7002  out: the node's /healthz, /readyz and /metrics.
#
# Its keys are made here, in memory, at each start: a restarted enclave is a new node, which
# attests again (docs/operations.md, "Attested nodes").
set -eu
bb=/bin/busybox
$bb mkdir -p /run/nautilus/data /tmp
$bb ip addr add 127.0.0.1/8 dev lo
$bb ip link set dev lo up

socat -u VSOCK-LISTEN:7000,reuseaddr STDOUT | $bb tar -x -C /run/nautilus
cat /run/nautilus/hosts >> /etc/hosts
while read -r local port; do
  [ -n "$local" ] || continue
  $bb ip addr add "${local%:*}/32" dev lo 2>/dev/null || true
  socat "TCP-LISTEN:${local#*:},bind=${local%:*},fork,reuseaddr" "VSOCK-CONNECT:3:$port" &
done < /run/nautilus/forwards

status=/run/nautilus/status
echo "starting" > $status
socat VSOCK-LISTEN:7001,fork,reuseaddr SYSTEM:"cat $status" &
socat VSOCK-LISTEN:7002,fork,reuseaddr TCP:127.0.0.1:9412 &

config=/run/nautilus/node.yaml
field() { $bb sed -n "s/^$1: *//p" $config; }
# Attest until it succeeds: the first attempts fail until the parent funds the node's
# address, which the status shows. Each attempt takes a fresh document (10-minute bound).
until nautilus attest --data-dir /run/nautilus/data \
  --chain-url "$(field chain-url)" --package "$(field package)" --cluster "$(field cluster)" \
  > $status.new 2>&1; do
  $bb mv $status.new $status
  $bb sleep 10
done
$bb mv $status.new $status
exec nautilus run --config $config --data-dir /run/nautilus/data
