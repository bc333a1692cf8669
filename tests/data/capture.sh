#!/bin/sh
# How the captures in this folder were made: Linux talking to itself over a
# veth pair between two network namespaces (root only; 192.0.2.0/24, TEST-NET-1).
# They are checked in; this script is the record, and re-running it makes
# new ones (sequence numbers and timestamps will differ, and fresh namespaces
# add IPv6 neighbour discovery frames).
#
#   linux-small.pcapng        ARP, a 15-byte echo over TCP, ping, a UDP datagram
#                             to a closed port and its ICMP port unreachable
#   linux-transfer.pcap       100 kB with ECN; the receiver drops 3 in 25 data
#                             segments (nftables), so SACK blocks appear
#   linux-no-timestamps.pcap  60 kB with timestamps off and 5 in 20 dropped: up
#                             to four SACK blocks (first 30 frames kept)
#   linux-no-sack.pcap        SACK and window scaling off: SYN is mss,nop,nop,TS
# Needs: iproute2, ethtool, tcpdump, nftables, iputils-ping, netcat, python3.
set -eu
# Usage: capture.sh [OUTPUT_DIR]   (default: this folder)
out=${1:-$(cd "$(dirname "$0")" && pwd)}
tmp=$(mktemp -d)
A=pn-cap-a B=pn-cap-b
ip netns add $A; ip netns add $B
trap 'ip netns del $A; ip netns del $B; rm -rf "$tmp"' EXIT
ip link add pncapa type veth peer name pncapb
ip link set pncapa netns $A; ip link set pncapb netns $B
ip -n $A link set pncapa address 02:00:00:00:00:01
ip -n $B link set pncapb address 02:00:00:00:00:02
ip -n $A addr add 192.0.2.1/24 dev pncapa; ip -n $B addr add 192.0.2.2/24 dev pncapb
for ns in $A $B; do ip -n $ns link set lo up; done
ip -n $A link set pncapa up; ip -n $B link set pncapb up
# Software checksums and no segmentation offload: the capture shows the
# frames exactly as they are on the wire.
ip netns exec $A ethtool -K pncapa tx off tso off gso off gro off >/dev/null
ip netns exec $B ethtool -K pncapb tx off tso off gso off gro off >/dev/null

cat >"$tmp/server.py" <<'PY'
import socket, sys
port, mode = int(sys.argv[1]), sys.argv[2]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.0.2.2", port)); s.listen(1)
c, _ = s.accept()
while True:
    d = c.recv(65536)
    if not d: break
    if mode == "echo": c.sendall(d)
c.close()
PY
cat >"$tmp/client.py" <<'PY'
import socket, sys
port, n, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
c = socket.create_connection(("192.0.2.2", port))
if mode == "echo":
    c.sendall(b"hello, pollnet\n"); c.recv(100)
else:
    c.sendall(bytes((i * 7) & 0xff for i in range(n)))
c.shutdown(socket.SHUT_WR)
while c.recv(65536): pass
c.close()
PY

# capture FILE PORT BYTES MODE: one connection captured on the receiver.
capture() {
    ip netns exec $B tcpdump -i pncapb -w "$tmp/$1" -U -s 0 2>/dev/null & td=$!
    sleep 1
    ip netns exec $B python3 "$tmp/server.py" "$2" "$4" & sleep 0.5
    ip netns exec $A python3 "$tmp/client.py" "$2" "$3" "$4"
    if [ "$1" = small.pcap ]; then
        ip netns exec $A ping -c 1 192.0.2.2 >/dev/null
        ip netns exec $A sh -c 'echo hi | nc -u -w1 192.0.2.2 9' || true
    fi
    sleep 1; kill $td; wait $td || true
}
drop() { # drop PORT MAP: receiver drops data segments by a counter
    ip netns exec $B nft flush ruleset
    ip netns exec $B nft add table inet t
    ip netns exec $B nft 'add chain inet t in { type filter hook input priority 0; }'
    ip netns exec $B nft "add rule inet t in tcp dport $1 ip length > 1000 numgen inc mod $2"
}

capture small.pcap 5000 0 echo
editcap -F pcapng "$tmp/small.pcap" "$out/linux-small.pcapng"

ip netns exec $A sysctl -qw net.ipv4.tcp_ecn=1
drop 5001 '25 vmap { 7 : drop, 9 : drop, 12 : drop }'
capture transfer.pcap 5001 100000 sink
cp "$tmp/transfer.pcap" "$out/linux-transfer.pcap"

ip netns exec $A sysctl -qw net.ipv4.tcp_ecn=0 net.ipv4.tcp_timestamps=0
drop 5002 '20 vmap { 5 : drop, 7 : drop, 9 : drop, 11 : drop, 13 : drop }'
capture nots.pcap 5002 60000 sink
editcap -F pcap -r "$tmp/nots.pcap" "$out/linux-no-timestamps.pcap" 1-30

ip netns exec $A sysctl -qw net.ipv4.tcp_timestamps=1 net.ipv4.tcp_sack=0 net.ipv4.tcp_window_scaling=0
capture nosack.pcap 5003 0 echo
cp "$tmp/nosack.pcap" "$out/linux-no-sack.pcap"
