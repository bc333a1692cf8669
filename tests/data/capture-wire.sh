#!/bin/sh
# How linux-dhcp.pcap, linux-dns.pcap and linux-ipv6.pcap were made (root
# only): Linux and its servers in four network namespaces, captured on the
# client's veth. They are checked in and the wire unit tests quote frames
# from them; this script is the record (re-running it makes new captures
# with other transaction ids, fragment idents and timestamps).
#
#   S: a bridge br0 (MLDv2 querier) with 192.0.2.1/24 and 2001:db8:1::1/64;
#      dnsmasq (DHCP and DNS) and radvd (RA with prefix, MTU and RDNSS);
#      forwarding, a 1280-byte-MTU link to D and a route via E.
#   C: the client (02:00:00:00:01:02): a DHCP exchange (DISCOVER, OFFER,
#      REQUEST, ACK, DECLINE, NAK, RELEASE) sent by the python below,
#      then IPv6 on (DAD, MLDv2 reports, RS, SLAAC), echoes (one fragmented),
#      packet too big, time exceeded, port and address unreachable, a
#      redirect, two parameter problems, then DNS queries (A, AAAA, a CNAME
#      chain, NXDOMAIN, a truncated answer, and glibc's own query).
#   E: an on-link neighbour the router redirects to. D: behind the router.
#
#   linux-dhcp.pcap  udp port 67 or 68
#   linux-dns.pcap   udp port 53
#   linux-ipv6.pcap  ip6
# Needs: iproute2, ethtool, tcpdump, dnsmasq, radvd, python3.
set -eu
# Usage: capture-wire.sh [OUTPUT_DIR]   (default: this folder)
out=${1:-$(cd "$(dirname "$0")" && pwd)}
tmp=$(mktemp -d)
tools="$tmp/tools.py"
cat >"$tools" <<'PY'
# Helpers for the wire captures: raw IPv6 sends and a DHCP client exchange.
import socket, struct, sys, time, os

def csum(data):
    if len(data) % 2: data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16: s = (s >> 16) + (s & 0xffff)
    return (~s) & 0xffff

def icmp6_echo(dst, size=56, hops=None, dontfrag=False, ident=0x4242, seq=1, wait=1.0):
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    if hops is not None:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, hops)
    if dontfrag:
        s.setsockopt(socket.IPPROTO_IPV6, 62, 1)  # IPV6_DONTFRAG
        s.setsockopt(socket.IPPROTO_IPV6, 23, 3)  # IPV6_MTU_DISCOVER = IPV6_PMTUDISC_PROBE
    payload = bytes((i + 0x10) & 0xff for i in range(size))
    msg = struct.pack("!BBHHH", 128, 0, 0, ident, seq) + payload
    try:
        s.sendto(msg, (dst, 0))
    except OSError as e:
        print("send:", e, file=sys.stderr)
    time.sleep(wait)

def udp6(dst, port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.sendto(b"hi\n", (dst, port))
    time.sleep(0.5)

def frame6(ifname, src_mac, dst_mac, src, dst, nh, payload, hops=64):
    """Send a hand-built IPv6 packet on ifname (AF_PACKET)."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifname, 0))
    sip = socket.inet_pton(socket.AF_INET6, src)
    dip = socket.inet_pton(socket.AF_INET6, dst)
    hdr = struct.pack("!IHBB", 0x60000000, len(payload), nh, hops) + sip + dip
    eth = bytes.fromhex(dst_mac.replace(":", "")) + bytes.fromhex(src_mac.replace(":", "")) + b"\x86\xdd"
    s.send(eth + hdr + payload)

def echo_body(src, dst, ident, seq, data):
    sip = socket.inet_pton(socket.AF_INET6, src)
    dip = socket.inet_pton(socket.AF_INET6, dst)
    msg = struct.pack("!BBHHH", 128, 0, 0, ident, seq) + data
    pseudo = sip + dip + struct.pack("!I3xB", len(msg), 58)
    c = csum(pseudo + msg)
    return msg[:2] + struct.pack("!H", c) + msg[4:]

def param_problem(ifname, src_mac, dst_mac, src, dst):
    # Destination options with an unknown option of type 0x87 (high bits
    # 10: discard and report), then an echo request.
    echo = echo_body(src, dst, 0x5050, 1, b"pollnet!")
    opts = struct.pack("!BB", 58, 0) + bytes([0x87, 4, 1, 2, 3, 4])
    frame6(ifname, src_mac, dst_mac, src, dst, 60, opts + echo)
    time.sleep(0.5)
    # Hop-by-hop after a destination options header: unrecognized next
    # header (code 1).
    opts = struct.pack("!BB", 0, 0) + bytes([1, 4, 0, 0, 0, 0])
    hbh = struct.pack("!BB", 58, 0) + bytes([1, 4, 0, 0, 0, 0])
    frame6(ifname, src_mac, dst_mac, src, dst, 60, opts + hbh + echo)
    time.sleep(0.5)

# --- DHCP ---------------------------------------------------------------
def dhcp_msg(mac, xid, mtype, opts, ciaddr="0.0.0.0", broadcast=True):
    m = struct.pack("!BBBBIHH", 1, 1, 6, 0, xid, 0, 0x8000 if broadcast else 0)
    m += socket.inet_aton(ciaddr) + b"\0" * 12
    m += mac + b"\0" * 10 + b"\0" * 64 + b"\0" * 128
    m += bytes([99, 130, 83, 99])
    m += bytes([53, 1, mtype])
    m += bytes([61, 7, 1]) + mac
    for code, val in opts:
        m += bytes([code, len(val)]) + val
    m += bytes([255])
    if len(m) < 300: m += b"\0" * (300 - len(m))
    return m

def ipv4_udp_frame(src_mac, dst_mac, src, dst, sport, dport, data):
    udp_len = 8 + len(data)
    sip, dip = socket.inet_aton(src), socket.inet_aton(dst)
    pseudo = sip + dip + struct.pack("!BBH", 0, 17, udp_len)
    udp = struct.pack("!HHHH", sport, dport, udp_len, 0) + data
    c = csum(pseudo + udp) or 0xffff
    udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0x10, 20 + udp_len, 0, 0, 128, 17, 0, sip, dip)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return dst_mac + src_mac + b"\x08\x00" + ip + udp

def dhcp_client(ifname, mac_text):
    mac = bytes.fromhex(mac_text.replace(":", ""))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    s.bind((ifname, 0))
    s.settimeout(8)
    bcast = b"\xff" * 6
    def send(msg, src="0.0.0.0", dst="255.255.255.255", dst_mac=bcast):
        s.send(ipv4_udp_frame(mac, dst_mac, src, dst, 68, 67, msg))
    def recv(xid):
        end = time.time() + 8
        while time.time() < end:
            try:
                f = s.recv(2048)
            except socket.timeout:
                return None
            if len(f) < 42 + 240 or f[23] != 17: continue
            if struct.unpack("!H", f[36:38])[0] != 68: continue
            d = f[42:]
            if struct.unpack("!I", d[4:8])[0] == xid:
                return f
        return None
    params = bytes([1, 3, 6, 12, 15, 26, 28, 51, 58, 59])
    xid = 0x3903f326
    send(dhcp_msg(mac, xid, 1, [(55, params), (57, struct.pack("!H", 1500)), (12, b"pollnet")]))
    offer = recv(xid)
    assert offer, "no offer"
    d = offer[42:]
    yiaddr = d[16:20]
    server = None
    i = 240
    while i < len(d) and d[i] != 255:
        if d[i] == 0: i += 1; continue
        if d[i] == 54: server = d[i + 2:i + 6]
        i += 2 + d[i + 1]
    send(dhcp_msg(mac, xid, 3, [(50, yiaddr), (54, server), (55, params), (12, b"pollnet")]))
    ack = recv(xid)
    assert ack, "no ack"
    # DECLINE the address (as after an ARP conflict), then get it again.
    send(dhcp_msg(mac, xid + 1, 4, [(50, yiaddr), (54, server)], broadcast=False))
    time.sleep(0.5)
    # A request for an address on another subnet (INIT-REBOOT): a NAK.
    send(dhcp_msg(mac, xid + 2, 3, [(50, socket.inet_aton("198.51.100.7"))]))
    recv(xid + 2)
    # RELEASE of the leased address, unicast to the server.
    xid += 3
    send(dhcp_msg(mac, xid, 1, [(55, params)]))
    offer = recv(xid)
    if offer:
        d = offer[42:]; yiaddr = d[16:20]
        send(dhcp_msg(mac, xid, 3, [(50, yiaddr), (54, server), (55, params)]))
        ack = recv(xid)
        srv_mac = ack[6:12]
        send(dhcp_msg(mac, xid + 1, 7, [(54, server)], ciaddr=socket.inet_ntoa(yiaddr), broadcast=False),
             src=socket.inet_ntoa(yiaddr), dst=socket.inet_ntoa(server), dst_mac=srv_mac)
    time.sleep(0.5)

def dns_queries(server):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    def q(ident, name, qtype, rd=True):
        m = struct.pack("!HHHHHH", ident, 0x0100 if rd else 0, 1, 0, 0, 0)
        for label in name.split("."):
            m += bytes([len(label)]) + label.encode()
        m += b"\0" + struct.pack("!HH", qtype, 1)
        s.sendto(m, (server, 53))
        try: s.recvfrom(4096)
        except socket.timeout: pass
    q(0x1001, "test.example", 1)
    q(0x1002, "test.example", 28)
    q(0x1003, "www.example", 1)
    q(0x1004, "web.example", 28)
    q(0x1005, "missing.test.example", 1)
    q(0x1006, "nothing.invalid", 1)
    q(0x1007, "big.example", 1)
    q(0x1008, "www.example", 28)

if __name__ == "__main__":
    cmd = sys.argv[1]
    args = sys.argv[2:]
    if cmd == "echo": icmp6_echo(args[0], int(args[1]), None if args[2] == "-" else int(args[2]), args[3] == "df", wait=float(args[4]) if len(args) > 4 else 1.0)
    elif cmd == "udp6": udp6(args[0], int(args[1]))
    elif cmd == "pp": param_problem(*args)
    elif cmd == "dhcp": dhcp_client(*args)
    elif cmd == "dns": dns_queries(*args)
PY
p=$$
S=pnw-s$p C=pnw-c$p E=pnw-e$p D=pnw-d$p
cleanup() {
    for pid in $(cat "$tmp"/*.pid 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
    sleep 0.3
    for ns in $S $C $E $D; do ip netns del $ns 2>/dev/null || true; done
    rm -rf "/etc/netns/$C" "$tmp"
}
trap cleanup EXIT
for ns in $S $C $E $D; do ip netns add $ns; ip -n $ns link set lo up; done
ip -n $S link add br0 address 02:00:00:00:01:01 type bridge mcast_snooping 1 mcast_querier 1 mcast_mld_version 2 mcast_startup_query_interval 100
ip -n $S link add sc type veth peer name cs netns $C
ip -n $S link add se type veth peer name es netns $E
ip -n $S link add sd type veth peer name ds netns $D
ip -n $C link set cs address 02:00:00:00:01:02
ip -n $E link set es address 02:00:00:00:01:0e
ip -n $D link set ds address 02:00:00:00:01:0d
ip -n $S link set sd address 02:00:00:00:02:01
for ns in $S $C $E $D; do ip netns exec $ns sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 2>/dev/null || true; done
ip netns exec $C sysctl -qw net.ipv6.conf.default.accept_dad=1 net.ipv6.conf.cs.disable_ipv6=1
ip netns exec $S sysctl -qw net.ipv6.conf.all.forwarding=1 net.ipv4.ip_forward=1
ip -n $S link set sc master br0; ip -n $S link set se master br0
ip -n $S link set sd mtu 1280; ip -n $D link set ds mtu 1280
ip -n $S addr add 192.0.2.1/24 dev br0
ip -n $S addr add 2001:db8:1::1/64 dev br0 nodad
ip -n $S addr add 2001:db8:2::1/64 dev sd nodad
ip -n $E addr add 2001:db8:1::e/64 dev es nodad
ip -n $D addr add 2001:db8:2::2/64 dev ds nodad
for l in br0 sc se sd; do ip -n $S link set $l up; done
ip -n $E link set es up; ip -n $D link set ds up
ip -n $D route add default via 2001:db8:2::1
ip -n $S route add 2001:db8:3::/64 via fe80::ff:fe00:10e dev br0
for ns in $S $C; do for i in $(ip -n $ns -o link | awk -F': ' '{print $2}' | cut -d@ -f1); do ip netns exec $ns ethtool -K $i tx off tso off gso off gro off >/dev/null 2>&1 || true; done; done

cat >"$tmp/radvd.conf" <<EOF
interface br0 {
    AdvSendAdvert on;
    MinRtrAdvInterval 3;
    MaxRtrAdvInterval 4;
    AdvOtherConfigFlag on;
    AdvLinkMTU 1500;
    AdvReachableTime 30000;
    AdvRetransTimer 1000;
    AdvCurHopLimit 64;
    AdvDefaultLifetime 1800;
    prefix 2001:db8:1::/64 {
        AdvOnLink on; AdvAutonomous on;
        AdvValidLifetime 86400; AdvPreferredLifetime 14400;
    };
    RDNSS 2001:db8:1::1 2001:db8:1::53 { AdvRDNSSLifetime 600; };
};
EOF
ip -n $C link set cs up
sleep 0.5
ip netns exec $C tcpdump -i cs -w "$tmp/all.pcap" -U -s 0 2>/dev/null & echo $! > "$tmp/td.pid"
sleep 1
ip netns exec $S dnsmasq --no-daemon --conf-file=/dev/null --bind-interfaces --interface=br0 \
    --except-interface=lo --listen-address=192.0.2.1 \
    --dhcp-range=192.0.2.50,192.0.2.60,2m --dhcp-leasefile="$tmp/leases" \
    --dhcp-option=option:T1,10 --dhcp-option=option:T2,15 --dhcp-option=option:mtu,1400 \
    --dhcp-option=option:dns-server,192.0.2.1,192.0.2.53 --dhcp-authoritative \
    --no-resolv --no-hosts --address=/test.example/192.0.2.80 --address=/test.example/2001:db8::80 \
    --host-record=web.example,192.0.2.81,2001:db8::81 --cname=alias.example,web.example --cname=www.example,alias.example \
    --local=/invalid/ $(for i in $(seq 1 40); do printf -- '--host-record=big.example,198.51.100.%d ' $i; done) \
    --pid-file="$tmp/dnsmasq.pid2" 2>"$tmp/dnsmasq.log" & echo $! > "$tmp/dnsmasq.pid"
ip netns exec $S radvd -n -C "$tmp/radvd.conf" -p "$tmp/radvd.pid2" -m stderr 2>"$tmp/radvd.log" & echo $! > "$tmp/radvd.pid"
sleep 1.5
ip netns exec $C python3 "$tools" dhcp cs 02:00:00:00:01:02
# IPv6 on: DAD, MLD reports, RS; radvd answers; SLAAC.
ip netns exec $C sysctl -qw net.ipv6.conf.cs.disable_ipv6=0
sleep 4

ip netns exec $C python3 "$tools" echo 2001:db8:1::1 56 - no
ip netns exec $C python3 "$tools" echo 2001:db8:1::1 2000 - no
ip netns exec $C python3 "$tools" echo 2001:db8:2::2 1400 - df
ip netns exec $C python3 "$tools" echo 2001:db8:2::2 56 1 no
ip netns exec $C python3 "$tools" udp6 2001:db8:2::2 9
ip -n $S neigh replace fe80::ff:fe00:10e lladdr 02:00:00:00:01:0e dev br0 nud reachable
ip netns exec $C python3 "$tools" echo 2001:db8:3::1 56 - no
ip netns exec $C python3 "$tools" echo 2001:db8:2::99 56 - no 4
CADDR=$(ip -n $C -6 addr show dev cs scope global | awk '/inet6/{print $2}' | cut -d/ -f1 | head -1)
ip netns exec $C python3 "$tools" pp cs 02:00:00:00:01:02 02:00:00:00:01:01 "$CADDR" 2001:db8:1::1
# DNS over IPv4.
ip -n $C addr add 192.0.2.2/24 dev cs
sleep 0.3
ip netns exec $C python3 "$tools" dns 192.0.2.1
mkdir -p /etc/netns/$C
echo "nameserver 192.0.2.1" > /etc/netns/$C/resolv.conf
ip netns exec $C getent ahostsv4 test.example >&2 || true
sleep 1
kill $(cat "$tmp/td.pid"); sleep 0.5
for f in "dhcp:udp port 67 or udp port 68" "dns:udp port 53" "ipv6:ip6"; do
    tcpdump -r "$tmp/all.pcap" -w "$out/linux-${f%%:*}.pcap" "${f#*:}" 2>/dev/null
done
